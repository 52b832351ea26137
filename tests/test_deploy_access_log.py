"""uvicorn's request lines pass the redacting net (#13): a play token in a WebSocket's query
string never reaches the hub's log."""

from __future__ import annotations

import asyncio
import logging
import logging.config
import sys
import tempfile
from pathlib import Path

import pytest
import websockets
import yaml

from core.logging import redact, uvicorn_log_config
from core.net import free_port, port_open
from devkit.embedded.process import spawn, stop, tail, wait_until
from devkit.fixtures import logscan
from devkit.fixtures.hubapi import PASSWORD, SECRET
from hub.store import migrate
from streams.auth.tokens import issue_play_token

API_KEY = "chk_0123456789abcdef.not-a-real-key-but-shaped-like-one"


async def _knock(url: str) -> None:
    """Open the WebSocket; whether the hub then accepts or refuses it does not matter here."""
    try:
        async with websockets.connect(url, open_timeout=10) as ws:
            await asyncio.wait_for(ws.recv(), 10)
    except (websockets.exceptions.WebSocketException, OSError, TimeoutError):
        pass


def test_hub_log_websocket_lines_carry_no_token(pg_dsn: str, tmp_path: Path) -> None:
    migrate.upgrade(pg_dsn)
    port = free_port()
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(tmp_path / "state"),
        "database": {"url": pg_dsn},
        "hub": {"secret_key": SECRET, "host": "127.0.0.1", "port": port},
    }))
    log = tmp_path / "hub.log"
    proc = spawn([sys.executable, "-m", "hub", "hub", "--config", str(config)], log)
    try:
        wait_until(lambda: port_open(port), proc, "hub", log)
        token = issue_play_token("play-secret-of-this-test-0123456789", "cam1", "tester",
                                 ttl_s=60, protocols=["fmp4"])
        path = f"/ui/relay/fmp4/cam1?token={token}&key={API_KEY}&password=hunter2-xyz"
        asyncio.run(_knock(f"ws://127.0.0.1:{port}{path}"))
        wait_until(lambda: "/ui/relay/fmp4/cam1" in log.read_text(), proc, "WebSocket line", log)
    finally:
        stop(proc)
    text = log.read_text()
    line = next(s for s in text.splitlines() if "/ui/relay/fmp4/cam1" in s)
    assert "WebSocket" in line and "token=***" in line and "key=***" in line, line
    for secret in (token, token.split(".")[1], API_KEY, "hunter2-xyz"):
        assert secret not in text, tail(log)


def test_in_process_servers_scrub_their_records_too(caplog: pytest.LogCaptureFixture) -> None:
    """A server in a process that never called setup_logging (tests, embedded uses): the
    records uvicorn's loggers emit are scrubbed before any handler sees them."""
    logging.config.dictConfig(uvicorn_log_config())
    logging.config.dictConfig(uvicorn_log_config())  # every server configures it again
    for name in ("uvicorn.error", "uvicorn.access"):  # as uvicorn's log_level="info" does
        caplog.set_level(logging.INFO, logger=name)
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:1", "/fmp4/c?token=abc.def.ghi")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/x?access_token=qq1", "1.1", 200)
    assert len(logging.getLogger("uvicorn.error").filters) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ['127.0.0.1:1 - "WebSocket /fmp4/c?token=***" [accepted]',
                        '127.0.0.1:1 - "GET /x?access_token=*** HTTP/1.1" 200']


@pytest.mark.parametrize(("raw", "clean"), [
    ("GET /x?a=1&key=abc123&b=2", "GET /x?a=1&key=***&b=2"),
    ("/p?access_token=zz&monkey=1", "/p?access_token=***&monkey=1"),
    ("Authorization: Bearer abc", "Authorization: Bearer ***"),
    ("{'x-api-key': 'k1'}", "{'x-api-key': '***'}"),
    (f"used {API_KEY} here", "used *** here"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln end", "jwt *** end"),
    ("keyframe=3 key=5 monkey=2", "keyframe=3 key=5 monkey=2"),
])
def test_request_shaped_credentials_are_redacted(raw: str, clean: str) -> None:
    assert redact(raw) == clean


def test_the_end_of_run_scan_finds_credentials_by_file_and_line() -> None:
    """The session check (devkit.fixtures.logscan) really finds what it looks for (in a
    directory of its own: planted under the run's base directory, they would fail the run)."""
    with tempfile.TemporaryDirectory() as tmp:
        _plant_and_scan(Path(tmp))


def _plant_and_scan(tmp_path: Path) -> None:
    token = issue_play_token("play-secret-of-this-test-0123456789", "c", "s", ttl_s=60,
                             protocols=["fmp4"])
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "secret_key").write_text("generated-Secret_0123456789")
    (tmp_path / "hub.log").write_text(f"ok\nGET /x?token={token}\nfine\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "relay").write_text(f"a\nb\nkey {API_KEY}\n")
    (tmp_path / "edge.log").write_text("c\nsecret generated-Secret_0123456789\n")
    (tmp_path / "clean.log").write_text(f"{redact(token)} {PASSWORD[:5]}\n")
    found = logscan.pattern(logscan.fixed_secrets() | logscan.generated_secrets(tmp_path))
    problems = sorted(logscan.scan_files(tmp_path, found))
    assert [p.split(": ")[0] for p in problems] == [
        f"{tmp_path}/edge.log:2", f"{tmp_path}/hub.log:2", f"{tmp_path}/logs/relay:3"]
    assert list(logscan.hits(f"login {PASSWORD}", "caplog", found))
