"""Photos from field staff: accepted by what they are (decoded), not by name or header."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class PhotoError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Photo:
    content_type: str
    width: int
    height: int
    sha256: str


def validate(data: bytes, max_bytes: int, max_pixels: int) -> Photo:
    if len(data) > max_bytes:
        raise PhotoError("photo_too_large", f"a photo may be at most {max_bytes} bytes")
    if not data:
        raise PhotoError("photo_empty", "empty upload")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (w, h) = img.format or "", img.size
            if fmt not in FORMATS:
                raise PhotoError("photo_bad_type", "a photo must be JPEG, PNG or WebP")
            if w * h > max_pixels:
                raise PhotoError("photo_too_large", f"a photo may be at most {max_pixels} pixels")
            img.verify()
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:
        raise PhotoError("photo_bad_type", "not a readable JPEG, PNG or WebP image") from exc
    return Photo(FORMATS[fmt], w, h, hashlib.sha256(data).hexdigest())
