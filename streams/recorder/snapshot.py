"""JPEG snapshot: decode the cached keyframe on demand (PyAV), encode JPEG (OpenCV)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import av

from streams.core.media import AccessUnit

if TYPE_CHECKING:
    import numpy as np


class SnapshotError(Exception):
    pass


def jpeg_from_gop(gop: list[AccessUnit], quality: int = 85, max_width: int | None = None) -> bytes:
    """Decode the GOP's keyframe (the first unit) into a JPEG."""
    if not gop or not gop[0].keyframe:
        raise SnapshotError("no keyframe cached yet")
    codec = av.CodecContext.create("hevc" if gop[0].codec == "h265" else "h264", "r")
    frames = []
    for au in gop[:3]:  # the keyframe, plus a unit or two to flush decoders that hold one back
        try:
            frames += codec.decode(av.Packet(au.data))
        except av.error.FFmpegError as exc:
            raise SnapshotError(f"cannot decode the keyframe: {exc}") from exc
        if frames:
            break
    if not frames:
        try:
            frames += codec.decode(None)
        except av.error.FFmpegError:
            pass
    if not frames:
        raise SnapshotError("the keyframe did not decode")
    # lazy: OpenCV (and numpy) load with the first snapshot, not with every relay start
    import cv2  # noqa: PLC0415

    image: np.ndarray = frames[0].to_ndarray(format="bgr24")
    if max_width and image.shape[1] > max_width:
        height = int(image.shape[0] * max_width / image.shape[1])
        image = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SnapshotError("JPEG encoding failed")
    return bytes(jpeg)
