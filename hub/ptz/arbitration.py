"""Who may move a camera now: pure logic, the same for every PTZ protocol.

One controller at a time holds a camera's lease; each command renews it and it ends
``lease_idle_s`` after the last one. A claim from a department of higher priority takes
the lease (the loser is told); an equal or lower one is refused while the lease is live.
A lock by the camera's owning department (an incident) lets only that department move
the camera, whatever the other's priority. ``hub.ptz.store`` applies the decision under a
row lock, so that every hub replica decides on the same state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Holder:
    """A principal that holds or claims a camera."""

    kind: str  #: "user" or "api_key"
    id: str
    actor: str  #: as written in the audit log
    department: str
    priority: int

    def same(self, other: Holder) -> bool:
        return (self.kind, self.id) == (other.kind, other.id)


@dataclass(frozen=True)
class Lease:
    holder: Holder
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class Lock:
    department: str
    by: str
    reason: str
    incident_id: str | None = None


class Outcome(enum.StrEnum):
    acquired = "acquired"  #: the camera was free (or its lease had run out)
    renewed = "renewed"  #: the claimant already held it
    taken_over = "taken_over"  #: the claimant displaced a live lease
    locked = "ptz_locked"  #: refused: locked by another department
    held = "ptz_controlled_by_higher"  #: refused: held by an equal or higher priority


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    loser: Holder | None = None  #: taken_over: who lost the camera (is told)
    holder: Holder | None = None  #: held: who keeps it

    @property
    def allowed(self) -> bool:
        return self.outcome in (Outcome.acquired, Outcome.renewed, Outcome.taken_over)


def decide(claim: Holder, lease: Lease | None, lock: Lock | None, now: datetime) -> Decision:
    """What happens when ``claim`` asks to move a camera with this lease and lock."""
    if lock is not None and lock.department != claim.department:
        return Decision(Outcome.locked)
    if lease is None or not lease.live(now):
        return Decision(Outcome.acquired)
    current = lease.holder
    if current.same(claim):
        return Decision(Outcome.renewed)
    lock_owner_wins = lock is not None and current.department != lock.department
    if lock_owner_wins or claim.priority > current.priority:
        return Decision(Outcome.taken_over, loser=current)
    return Decision(Outcome.held, holder=current)
