"""RTSP glue: the reusable listening socket and the re-serve server."""
