"""A simulated ONVIF PTZ camera (device, media, PTZ, WS-Discovery, RTSP); see camera.py."""
