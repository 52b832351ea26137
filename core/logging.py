"""Logging for every cityhub process: one JSON object per line, or plain text.

Containers and systemd collect stderr; a log shipper (Loki, Vector, journald's
JSON export) then indexes fields instead of parsing prose. Each record carries
``time`` (UTC, RFC 3339), ``level``, ``logger``, ``message``, ``service`` and
``pid`` plus whatever a caller passes in ``extra={...}``.

Credentials are scrubbed from every record before it is written, whatever the
format: URLs with ``user:password@``, ``password=``/``token=``/``secret=`` pairs, query
parameters such as ``?key=``, ``Authorization``/``X-API-Key`` values, JWTs and API keys.
Every uvicorn server the product starts takes :func:`uvicorn_log_config`, so its access
and WebSocket lines (``"WebSocket /path?token=..."``) pass the same net. Code must still
never log a secret; this is the net under that rule.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

#: ``scheme://user:password@host`` -> ``scheme://user:***@host``
_URL_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)")
#: ``password=xyz``, ``"token": "xyz"``, ``secret_key: xyz`` -> value replaced
_KEY_VALUE = re.compile(
    r"(?P<key>\b[\w-]*(?:password|passwd|secret|token|api[_-]?key)[\w-]*\b['\"]?\s*[=:]\s*['\"]?)"
    r"(?P<value>[^\s'\",;&}]+)",
    re.IGNORECASE,
)
#: ``?key=xyz`` and ``&access_token=xyz`` in request lines (names _KEY_VALUE misses)
_QUERY_PARAM = re.compile(
    r"(?P<key>[?&;](?:[\w-]*(?:token|password|passwd|secret)[\w-]*|key|[\w-]*api[_-]?key)=)"
    r"(?P<value>[^&\s'\"#]*)",
    re.IGNORECASE,
)
#: ``Authorization: Bearer xyz``, ``{'x-api-key': 'xyz'}``: the scheme stays, the value goes
_AUTH_HEADER = re.compile(
    r"(?P<key>\b(?:proxy-)?(?:authorization|x-api-key)['\"]?\s*[=:,]\s*['\"]?"
    r"(?:(?:bearer|basic|digest|token)\s+)?)(?P<value>[^\s'\",;&}]+)",
    re.IGNORECASE,
)
#: Credentials recognisable by their shape wherever they stand: JWTs (access and play
#: tokens) and the hub's API keys (``chk_<id>.<secret>``, hub.auth.tokens).
_SHAPED = re.compile(r"\beyJ[\w-]+\.eyJ[\w-]+\.[\w-]*|\bchk_[0-9a-f]+\.[\w-]+")
MASK = "***"
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
_STANDARD_ATTRS |= {"message", "asctime"}


def redact(text: str) -> str:
    """Replace credentials in ``text`` with ``***``."""
    text = _URL_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)
    text = _SHAPED.sub(MASK, text)
    for pattern in (_QUERY_PARAM, _AUTH_HEADER, _KEY_VALUE):
        text = pattern.sub(lambda m: m.group("key") + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Scrubs the rendered message and string extras (formatters scrub tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


#: One instance on uvicorn's loggers, however many servers a process configures.
_UVICORN_FILTER = RedactingFilter()
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def uvicorn_log_config() -> dict[str, Any]:
    """``uvicorn.Config(log_config=...)`` for every server the product starts.

    uvicorn's own configuration gives its loggers handlers of their own that bypass
    :func:`setup_logging`, so access lines and WebSocket lines (which carry the request's
    query string, play tokens included) were written unscrubbed. Here its loggers keep no
    handlers, scrub each record themselves (whoever handles it later: the process's
    handler, a test's capture) and pass it on to the root logger's format.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": lambda: _UVICORN_FILTER}},
        "loggers": {
            name: {"handlers": [], "filters": ["redact"], "propagate": True}
            for name in UVICORN_LOGGERS
        },
    }


class CityJsonFormatter(JsonFormatter):
    """JSON lines with stable field names (``time``, ``level``, ``logger``...)."""

    def __init__(self, *args: Any, service: str = "cityhub", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = service

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_record["level"] = record.levelname
        log_record["logger"] = record.name
        log_record["service"] = self.service
        log_record["pid"] = record.process

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return redact(str(super().formatException(ei)))


class RedactingTextFormatter(logging.Formatter):
    """Plain lines for a terminal; tracebacks scrubbed like messages."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return redact(super().formatException(ei))


def setup_logging(
    json: bool,
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
    service: str | None = None,
) -> None:
    """Configure the root logger once for the process (replaces earlier handlers).

    ``service`` names the process in every JSON record (default: the
    ``CITYHUB_SERVICE`` environment variable, else ``cityhub``).

    ``json`` is chosen by the caller: true under containers/systemd
    (``--log-json`` or ``CITYHUB_LOG_JSON=1``), false on a terminal.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    if json:
        handler.setFormatter(
            CityJsonFormatter(
                "{message}",
                style="{",
                json_ensure_ascii=False,
                service=service or os.environ.get("CITYHUB_SERVICE", "cityhub"),
            )
        )
    else:
        text = RedactingTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        handler.setFormatter(text)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # Libraries that log credentials-bearing URLs at DEBUG stay quiet unless asked.
    for noisy in ("aioice", "aiortc", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
