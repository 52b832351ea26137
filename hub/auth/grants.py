"""Sharing grants and what a caller may see: pure logic plus its SQL form.

A department sees everything it owns. Department A may grant department B a
*scope* of A's resources: ``resources`` says which kinds (``video`` = camera
live and camera metadata, ``playback``, ``ptz`` = moving cameras it may watch,
``events``, ``readings``) and each optional dimension narrows it (None = any):
``cameras`` and ``systems`` narrow video, ptz and events, ``kinds`` narrows
events, ``sensors`` narrows readings, ``sites`` narrows all of them. A grant counts
only between ``starts_at`` and ``expires_at`` and until it is revoked; visibility is
recomputed on every request, so a revocation or an expiry stops access at once.

The same rule exists twice on purpose: :meth:`Visibility.sees_*` in Python (the
oracle the tests compare against) and :meth:`Visibility.sql` that the API adds
to every query; PostgreSQL row-level security (migration 0002_access) is a third,
independent statement of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from psycopg import sql

from hub.store.visibility import Scope
from hub.store.visibility import Visibility as StoreVisibility

Resource = Literal["video", "events", "readings", "playback", "ptz"]
RESOURCES: tuple[Resource, ...] = ("video", "events", "readings", "playback", "ptz")


@dataclass(frozen=True)
class Grant:
    """Department ``grantor`` shares a scope of its resources with ``grantee``."""

    id: str
    grantor: str
    grantee: str
    resources: frozenset[str]
    expires_at: datetime
    starts_at: datetime | None = None
    revoked_at: datetime | None = None
    cameras: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    sensors: frozenset[str] | None = None
    systems: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    purpose: str = ""
    #: ``playback`` only: footage recorded in [playback_from, playback_to] (None: open end).
    playback_from: datetime | None = None
    playback_to: datetime | None = None
    #: ``events`` only: exactly these events (an incident's attachments), no other scope.
    event_ids: frozenset[str] | None = None

    def active(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        if self.starts_at is not None and now < self.starts_at:
            return False
        return now < self.expires_at


def _in(allowed: frozenset[str] | None, value: str | None) -> bool:
    return allowed is None or (value is not None and value in allowed)


@dataclass(frozen=True)
class Visibility:
    """What one caller may see right now: its own department plus active incoming grants."""

    department: str
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @classmethod
    def compute(cls, department: str, grants: Iterable[Grant], now: datetime) -> Visibility:
        usable = tuple(
            g
            for g in grants
            if g.grantee == department and g.grantor != department and g.active(now)
        )
        return cls(department, usable)

    def _for(self, resource: str) -> list[Grant]:
        return [g for g in self.grants if resource in g.resources]

    # -- the oracle -------------------------------------------------------------------------
    def _camera_scope(self, resource: str, department: str, site: str, camera: str,
                      system: str) -> bool:
        """The own department's cameras, or those a ``resource`` grant reaches."""
        if department == self.department:
            return True
        return any(
            g.grantor == department
            and _in(g.cameras, camera)
            and _in(g.sites, site)
            and _in(g.systems, system)
            for g in self._for(resource)
        )

    def camera_grants(self, resource: str, department: str, site: str, camera: str,
                      system: str) -> list[str]:
        """The ids of the grants through which ``resource`` reaches another department's
        camera (audited with a use, so each grant's uses can be listed)."""
        return sorted(
            g.id for g in self._for(resource)
            if g.grantor == department and department != self.department
            and _in(g.cameras, camera) and _in(g.sites, site) and _in(g.systems, system)
        )

    def sees_camera(self, department: str, site: str, camera: str, system: str) -> bool:
        return self._camera_scope("video", department, site, camera, system)

    def may_move_camera(self, department: str, site: str, camera: str, system: str) -> bool:
        """PTZ: a ``ptz`` grant (watching the camera needs ``video`` as well)."""
        return self._camera_scope("ptz", department, site, camera, system)

    def playback_window(
        self, department: str, site: str, camera: str, system: str
    ) -> tuple[datetime | None, datetime | None] | None:
        """The recorded time the caller may play back of a camera it sees (None: none;
        (None, None): any). Watching live (``video``) does not include playback."""
        if department == self.department:
            return (None, None)
        windows = [
            (g.playback_from, g.playback_to)
            for g in self._for("playback")
            if g.grantor == department
            and _in(g.cameras, camera)
            and _in(g.sites, site)
            and _in(g.systems, system)
        ]
        if not windows:
            return None
        if any(w == (None, None) for w in windows):
            return (None, None)
        # Several grants: the widest span they cover together (grants rarely overlap oddly).
        starts = [w[0] for w in windows]
        ends = [w[1] for w in windows]
        start = None if None in starts else min(s for s in starts if s is not None)
        end = None if None in ends else max(e for e in ends if e is not None)
        return (start, end)

    def sees_event(
        self, department: str, site: str, camera: str | None, system: str, kind: str,
        event_id: str | None = None,
    ) -> bool:
        """An event grant with ``event_ids`` (an incident's) reaches exactly those events."""
        if department == self.department:
            return True
        return any(
            g.grantor == department
            and _in(g.cameras, camera)
            and _in(g.sites, site)
            and _in(g.systems, system)
            and _in(g.kinds, kind)
            and _in(g.event_ids, event_id)
            for g in self._for("events")
        )

    def sees_reading(self, department: str, site: str, sensor: str) -> bool:
        if department == self.department:
            return True
        return any(
            g.grantor == department and _in(g.sites, site) and _in(g.sensors, sensor)
            for g in self._for("readings")
        )

    def sees_site(self, department: str, site: str) -> bool:
        """A site is listed when the caller owns it or any grant reaches into it."""
        if department == self.department:
            return True
        return any(g.grantor == department and _in(g.sites, site) for g in self.grants)

    # -- the SQL form ------------------------------------------------------------------------
    def sql(
        self, resource: str, columns: dict[str, str], table: str | None = None
    ) -> sql.Composable:
        """A boolean SQL expression true exactly for rows the caller may see.

        ``resource`` is ``video``, ``ptz``, ``events``, ``readings`` or ``sites``; ``columns``
        maps the dimensions the resource uses (``department``, ``site``, ``camera``, ``system``,
        ``kind``, ``sensor``, ``event`` = the event's id) to column names of ``table`` (an
        alias, optional). Values are rendered as literals, so the fragment composes into any
        parameterised query.
        """
        dims = {
            "video": ("camera", "site", "system"),
            "ptz": ("camera", "site", "system"),
            "events": ("camera", "site", "system", "kind", "event"),
            "readings": ("site", "sensor"),
            "sites": ("site",),
        }[resource]
        grants = self.grants if resource == "sites" else self._for(resource)

        def col(name: str) -> sql.Composable:
            ident = sql.Identifier(table, columns[name]) if table else sql.Identifier(columns[name])
            return ident

        ors: list[sql.Composable] = [
            sql.SQL("{} = {}").format(col("department"), sql.Literal(self.department))
        ]
        for g in grants:
            ands: list[sql.Composable] = [
                sql.SQL("{} = {}").format(col("department"), sql.Literal(g.grantor))
            ]
            limits = {
                "camera": g.cameras,
                "site": g.sites,
                "system": g.systems,
                "kind": g.kinds,
                "sensor": g.sensors,
                "event": g.event_ids,
            }
            if any(limits[d] is not None and d not in columns for d in dims):
                continue  # a limit these columns cannot express: the grant shows nothing here
            for dim in dims:
                allowed = limits[dim]
                if allowed is not None:
                    ands.append(
                        sql.SQL("{}::text = ANY({}::text[])").format(
                            col(dim), sql.Literal(sorted(allowed))
                        )
                    )
            ors.append(sql.SQL("(") + sql.SQL(" AND ").join(ands) + sql.SQL(")"))
        return sql.SQL("(") + sql.SQL(" OR ").join(ors) + sql.SQL(")")


def to_store(vis: Visibility, resource: str) -> Any:
    """The store's visibility (``hub.store.visibility``) for ``events`` or ``readings``."""
    scopes = [Scope.of(departments=[vis.department])]
    for g in vis._for(resource):
        if resource == "events":
            scopes.append(
                Scope(
                    departments=frozenset({g.grantor}),
                    sites=g.sites,
                    cameras=g.cameras,
                    source_systems=g.systems,
                    kinds=g.kinds,
                    events=g.event_ids,
                )
            )
        else:
            scopes.append(
                Scope(departments=frozenset({g.grantor}), sites=g.sites, sensors=g.sensors)
            )
    return StoreVisibility.of(*scopes)


def as_set(values: Sequence[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)
