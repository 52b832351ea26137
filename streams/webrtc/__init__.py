"""WebRTC playback over WHEP (aiortc), H.264 passed through without re-encoding."""
