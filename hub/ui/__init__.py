"""The control-room web UI: static pages, layouts API and the relay gateway (README.md)."""
