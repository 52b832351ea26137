"""GB/T 28181 media: MPEG-PS over RTP (UDP, or TCP with RFC 4571 framing) in and out."""
