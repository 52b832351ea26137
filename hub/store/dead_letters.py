"""Which dead letters a reader or a replay takes: one filter, for the admins' API
(``hub/api/routers/dead_letters.py``) and ``cityhub ingest replay`` alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Selection:
    """Every filter optional; all of them apply."""

    department: str | None = None
    topic_prefix: str | None = None
    reason: str | None = None  #: part of the reason
    since: datetime | None = None
    until: datetime | None = None
    ids: list[int] | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        """SQL conditions (each starting `` AND``) and their parameters."""
        sql = (
            " AND (%(dept)s::text IS NULL OR department_id = %(dept)s)"
            " AND (%(prefix)s::text IS NULL OR starts_with(topic, %(prefix)s))"
            " AND (%(reason)s::text IS NULL OR strpos(reason, %(reason)s) > 0)"
            " AND (%(since)s::timestamptz IS NULL OR received_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR received_at < %(until)s)"
            " AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))"
        )
        return sql, {"dept": self.department, "prefix": self.topic_prefix,
                     "reason": self.reason, "since": self.since, "until": self.until,
                     "ids": self.ids}
