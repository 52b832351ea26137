"""Packet core: the camera's RTP packets forwarded as received to RTSP readers."""
