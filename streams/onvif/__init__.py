"""ONVIF cameras: device/media calls and the onvif:// URL (client.py), PTZ (ptz.py),
WS-Discovery (discovery.py). Every failure is an :class:`OnvifError` with a plain message."""

from streams.onvif.client import DeviceInfo, OnvifDevice, OnvifError, Profile

__all__ = ["DeviceInfo", "OnvifDevice", "OnvifError", "Profile"]
