"""ONVIF cameras: the onvif:// URL and OnvifError (url.py, light), device and media calls
(client.py: zeep, aiohttp), PTZ (ptz.py), WS-Discovery (discovery.py). Every failure is an
OnvifError with a plain message. Import the module you need: this package loads none."""
