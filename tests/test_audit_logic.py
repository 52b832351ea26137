"""Pure logic of the audit chain and evidence bundles (the DB-backed tests are in test_audit.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.audit import chain, evidence, signing


def _chain(n: int) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    prev = chain.GENESIS
    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    for i in range(1, n + 1):
        e: dict[str, object] = {
            "seq": i,
            "at": t0 + timedelta(seconds=i),
            "actor": "user:ana",
            "actor_department": "police",
            "action": "events.query",
            "target_type": "events",
            "target_id": None,
            "department": "police",
            "detail": {"n": i, "kinds": ["a", "b"]},
            "prev_hash": prev,
        }
        e["hash"] = chain.entry_hash(e)
        prev = str(e["hash"])
        entries.append(e)
    return entries


def test_intact_chain_verifies() -> None:
    result = chain.verify_entries(_chain(5))
    assert result.ok and result.entries == 5 and result.head_seq == 5


def test_edit_delete_reorder_are_detected() -> None:
    edited = _chain(5)
    edited[2]["detail"] = {"n": 99, "kinds": ["a", "b"]}
    assert [p.seq for p in chain.verify_entries(edited).problems] == [3]

    deleted = _chain(5)
    del deleted[1]
    problems = chain.verify_entries(deleted).problems
    assert problems and problems[0].seq == 3

    reordered = _chain(5)
    reordered[1], reordered[2] = reordered[2], reordered[1]
    assert not chain.verify_entries(reordered).ok

    # swapping the contents but keeping seq numbers in place is caught by the links
    swapped = _chain(5)
    a, b = copy.deepcopy(swapped[1]), copy.deepcopy(swapped[2])
    a["seq"], b["seq"] = 3, 2
    swapped[1], swapped[2] = b, a
    assert not chain.verify_entries(swapped).ok


def test_evidence_bundle_verifies_offline_and_detects_changes(tmp_path: Path) -> None:
    key = signing.load_or_create(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    media = [evidence.MediaFile("media/snapshot.jpg", b"\xff\xd8jpeg-bytes")]
    bundle, manifest = evidence.build({"id": "e1", "kind": "alarm"}, media, [], "user:ana", key)
    public = signing.load_public(signing.public_pem(key))
    assert evidence.verify(bundle, public) == []
    assert set(manifest["files"]) == {"event.json", "media/snapshot.jpg"}

    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(bundle))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            data = src.read(name)
            z.writestr(name, b"tampered" if name == "media/snapshot.jpg" else data)
    problems = evidence.verify(out.getvalue(), public)
    assert problems == ["media/snapshot.jpg: content does not match its SHA-256"]

    other = signing.load_or_create(tmp_path / "other.pem")
    assert evidence.verify(bundle, other.public_key())[0].startswith("manifest signature")
    assert evidence.verify(b"not a zip", public)[0].startswith("not a cityhub evidence bundle")

    (tmp_path / "b.zip").write_bytes(bundle)
    (tmp_path / "pub.pem").write_text(signing.public_pem(key))
    assert evidence.main([str(tmp_path / "b.zip"), str(tmp_path / "pub.pem")]) == 0


def test_media_paths_never_escape_the_media_dir(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.jpg").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("no")
    root = tmp_path / "media"
    assert evidence.resolve_media("a.jpg", root) == (root / "a.jpg").resolve()
    assert evidence.resolve_media("file://a.jpg", root) == (root / "a.jpg").resolve()
    for bad in ("../secret.txt", str(tmp_path / "secret.txt"), "http://x/a.jpg", "missing.jpg"):
        assert evidence.resolve_media(bad, root) is None
