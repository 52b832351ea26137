"""Export a time range of one camera as an MP4 (no re-encoding) plus a signed manifest.

The manifest lists the recorded segments the file was cut from (sha256 and journal
chain link of each), the file's own sha256, and an HMAC-SHA256 signature with the
relay's secret; the hub's evidence bundle carries both under its own Ed25519
signature. Exported segments are held: retention never deletes them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from streams.playback.reader import read_from  # noqa: E402
from streams.recording.journal import Journal, file_sha256, segment_links  # noqa: E402


class ExportError(Exception):
    pass


def write_range(journal: Journal, start: float, end: float, codec: str, path: Path) -> int:
    """Mux the units of [start, end] (from the keyframe before ``start``) into ``path``;
    returns the number of frames. Streams through: memory stays small for long ranges."""
    segments = journal.overlapping(start, end)
    if not segments:
        raise ExportError("nothing recorded in that range")
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps=video/x-{codec},stream-format=byte-stream,alignment=au "
        f"! {codec}parse ! mp4mux ! filesink name=out"
    )
    pipeline.get_by_name("out").set_property("location", str(path))
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    frames, t0, last = 0, None, -1.0
    for au, _gap in read_from(segments, start, codec):
        if au.pts > end:
            break
        t0 = au.pts if t0 is None else t0
        pts = max(au.pts - t0, last + 1e-3)
        last = pts
        buf = Gst.Buffer.new_wrapped(au.data)
        buf.pts = buf.dts = int(pts * Gst.SECOND)
        if not au.keyframe:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        src.emit("push-buffer", buf)
        frames += 1
    src.emit("end-of-stream")
    msg = pipeline.get_bus().timed_pop_filtered(
        60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS or frames == 0:
        path.unlink(missing_ok=True)
        raise ExportError("muxing the export failed")
    return frames


def _payload(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def manifest_for(
    journal: Journal, start: float, end: float, mp4: Path, secret: str, who: str
) -> dict[str, Any]:
    segments = journal.overlapping(start, end)
    links = segment_links(journal.path, {s.seq for s in segments})
    manifest: dict[str, Any] = {
        "camera": journal.camera_id,
        "start": start,
        "end": end,
        "file": mp4.name,
        "sha256": file_sha256(mp4),
        "bytes": mp4.stat().st_size,
        "exported_by": who,
        "chain_head": journal.head,
        "segments": [
            {
                "seq": s.seq,
                "file": Path(s.file).name,
                "start": s.start,
                "end": s.end,
                "sha256": s.sha256,
                "link": links.get(s.seq),
            }
            for s in segments
        ],
    }
    manifest["signature"] = hmac.new(
        secret.encode(), _payload(manifest), hashlib.sha256
    ).hexdigest()
    return manifest


def verify_manifest(manifest: dict[str, Any], mp4: bytes, secret: str) -> list[str]:
    """What is wrong with an export (empty: it is what the relay wrote)."""
    problems = []
    expected = hmac.new(secret.encode(), _payload(manifest), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(manifest.get("signature", ""))):
        problems.append("manifest signature does not verify")
    if hashlib.sha256(mp4).hexdigest() != manifest.get("sha256"):
        problems.append(f"{manifest.get('file')}: sha256 differs from the manifest")
    return problems
