"""Playback of recorded footage: fMP4 over WebSocket (browser), export to MP4."""
