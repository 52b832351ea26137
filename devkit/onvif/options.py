"""Command-line options of the simulated ONVIF cameras (light: read at CLI start)."""

from __future__ import annotations




