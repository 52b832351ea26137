"""core.logging: JSON lines with stable fields, and credentials scrubbed in every format."""

from __future__ import annotations

import io
import json
import logging

import pytest

from core.logging import redact, setup_logging


@pytest.fixture
def capture():
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield buf
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _records(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_json_lines_carry_stable_fields_and_extras(capture):
    setup_logging(True, "debug", capture, service="cityhub-ingest")
    log = logging.getLogger("hub.ingest")
    log.info("batch stored %d", 42, extra={"camera": "cam1", "rows": 42})
    logging.getLogger("hub.ingest").debug("détail")
    first, second = _records(capture)
    assert first["message"] == "batch stored 42"
    assert first["level"] == "INFO" and first["logger"] == "hub.ingest"
    assert first["service"] == "cityhub-ingest" and isinstance(first["pid"], int)
    assert first["camera"] == "cam1" and first["rows"] == 42
    assert first["time"].endswith("+00:00")
    assert second["message"] == "détail"


def test_level_filters_records(capture):
    setup_logging(True, logging.WARNING, capture)
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")
    assert [r["message"] for r in _records(capture)] == ["shown"]


def test_credentials_scrubbed_from_message_extras_and_tracebacks(capture):
    setup_logging(True, "info", capture)
    log = logging.getLogger("streams")
    log.info("pull %s", "rtsp://admin:hunter2@10.1.2.3:554/live", extra={"dsn": "postgresql://u:pgpw@db/c"})
    try:
        raise RuntimeError("login failed password=s3cret token: abc.def")
    except RuntimeError:
        log.exception("camera error")
    text = capture.getvalue()
    for secret in ("hunter2", "pgpw", "s3cret", "abc.def"):
        assert secret not in text
    pull, error = _records(capture)
    assert pull["message"] == "pull rtsp://admin:***@10.1.2.3:554/live"
    assert pull["dsn"] == "postgresql://u:***@db/c"
    assert "RuntimeError" in error["exc_info"]


def test_text_format_is_scrubbed_too(capture):
    setup_logging(False, "info", capture)
    logging.getLogger("edge").info("broker mqtts://edge-1:pw123@broker:8883")
    line = capture.getvalue()
    assert "pw123" not in line and "mqtts://edge-1:***@broker:8883" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("rtsp://cam.local/stream1", "rtsp://cam.local/stream1"),
        ("http://u:p@h/x?a=1", "http://u:***@h/x?a=1"),
        ('{"secret_key": "abc"}', '{"secret_key": "***"}'),
        ("api_key=XYZ&x=1", "api_key=***&x=1"),
        ("CITYHUB_BROKER__PASSWORD=topsecret", "CITYHUB_BROKER__PASSWORD=***"),
        ("no secrets here: 10 cameras", "no secrets here: 10 cameras"),
    ],
)
def test_redact(raw, clean):
    assert redact(raw) == clean


def test_text_tracebacks_scrubbed(capture):
    setup_logging(False, "info", capture)
    try:
        raise ValueError("bad url rtsp://a:zzsecret@h/")
    except ValueError:
        logging.getLogger("x").exception("failed")
    assert "zzsecret" not in capture.getvalue() and "ValueError" in capture.getvalue()
