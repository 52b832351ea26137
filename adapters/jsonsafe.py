"""Reading JSON from the wire with bounds: size, nesting depth, valid UTF-8."""

from __future__ import annotations

from typing import Any

import orjson

from adapters.base import AdapterError

MAX_DEPTH = 32


def load_json(payload: bytes, max_bytes: int, max_depth: int | None = MAX_DEPTH) -> Any:
    """Parsed JSON, or AdapterError: too large, not UTF-8, malformed or nested too deep.

    ``max_depth=None``: the caller bounds depth itself (the parser's recursion limit still holds).
    """
    if len(payload) > max_bytes:
        raise AdapterError(f"payload of {len(payload)} bytes exceeds {max_bytes} bytes")
    try:
        data = orjson.loads(payload)  # validates UTF-8, refuses NaN/Infinity, bounds depth
    except orjson.JSONDecodeError as exc:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise AdapterError(  # RFC 8259 8.1: JSON between systems is UTF-8
                f"invalid_encoding: payload is not valid UTF-8 (byte {bad.start})"
            ) from None
        if "depth limit" in str(exc) or "recursion" in str(exc):
            raise AdapterError("JSON nested deeper than the parser allows") from None
        raise AdapterError(f"malformed JSON: {str(exc)[:200]}") from None
    if max_depth is not None:
        check_depth(data, max_depth)
    return data


def check_depth(data: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise AdapterError if containers nest deeper than ``max_depth`` (iterative, no recursion)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise AdapterError(f"JSON nested deeper than {max_depth} levels")
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
