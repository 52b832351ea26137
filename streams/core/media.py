"""Encoded media as it travels from the upstream to consumers."""

from __future__ import annotations

from dataclasses import dataclass

#: Codecs the relay passes through (others fail the stream with a clear error).
SUPPORTED_CODECS = ("h264", "h265")


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One encoded picture in Annex-B byte-stream form (parameter sets before keyframes).

    ``pts`` is the stream's media time in seconds: monotonic across reconnects,
    so consumers that outlive an upstream session never see time run back.
    """

    data: bytes
    pts: float
    keyframe: bool
    codec: str
