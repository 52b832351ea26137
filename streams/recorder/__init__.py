"""Snapshots and event clips cut from the fan-out without re-encoding the stream."""
