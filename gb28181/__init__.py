"""GB/T 28181 protocol logic (SIP subset, digest, MANSCDP XML, SDP, PS over RTP).

Depends only on ``core``: no store, no HTTP framework, no GStreamer. The SIP
service process that keeps state in the store lives in ``hub.gb28181``.
"""
