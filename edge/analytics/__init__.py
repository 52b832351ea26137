"""OpenCV analytics on decoded frames: motion, intrusion into zones, line crossing.

Pure logic on numpy frames (no I/O): ``CameraAnalytics.process(frame, at)``
returns ``Detection`` objects; the agent turns them into events with snapshots.
"""

from edge.analytics.detector import CameraAnalytics, Detection

__all__ = ["CameraAnalytics", "Detection"]
