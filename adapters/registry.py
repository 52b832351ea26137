"""Adapters are plugins: every ``cityhub.adapters`` entry point names an Adapter class.

cityhub's own adapters are registered in its pyproject.toml; a department's
integrator adds a format by shipping a package with an entry point in the same
group (the entry-point name must equal the adapter's ``format``).
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points

from adapters.base import Adapter, AdapterError

GROUP = "cityhub.adapters"
log = logging.getLogger(__name__)


@cache
def adapters() -> dict[str, Adapter]:
    """Every installed adapter by format (loaded once per process)."""
    found: dict[str, Adapter] = {}
    for ep in entry_points(group=GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not an Adapter subclass")
        if cls.format != ep.name:
            raise TypeError(
                f"entry point {ep.name} loads an adapter whose format is {cls.format!r}"
            )
        found[ep.name] = cls()
    if not found:
        raise RuntimeError(
            f"no adapters in entry-point group {GROUP!r}: is cityhub installed (pip install -e .)?"
        )
    return found


def get(fmt: str) -> Adapter:
    """The adapter for a topic's ``{format}``, or AdapterError (the message goes to dead-letter)."""
    try:
        return adapters()[fmt]
    except KeyError:
        raise AdapterError(f"no adapter for format {fmt[:40]!r}") from None
