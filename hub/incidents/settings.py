"""The ``incidents`` section of the city configuration: time limits, escalation, worker."""

from __future__ import annotations

from pydantic import Field, model_validator

from core.config import Section
from core.model import Ident
from hub.auth.roles import Role


class TimeLimit(Section):
    """Time limits of incidents of one kind and priority, counted from filing."""

    kind: str = Field("*", description="Incident kind this applies to ('*': any kind).")
    priority: int | None = Field(
        None, ge=1, le=4, description="Priority this applies to (1 urgent .. 4 low; unset: any)."
    )
    acknowledge_s: float = Field(300, gt=0, description="Seconds to acknowledge.")
    dispatch_s: float = Field(900, gt=0, description="Seconds to dispatch to who must act.")
    resolve_s: float = Field(86400, gt=0, description="Seconds to resolve (handled, reported).")


class EscalationStep(Section):
    """One level of escalation of a breached time limit."""

    after_s: float = Field(
        0, ge=0, description="Seconds after the breach at which this level is raised."
    )
    roles: list[Role] = Field(
        default_factory=lambda: [Role.supervisor],
        min_length=1,
        description="Roles notified (in the departments below).",
    )
    departments: list[Ident] = Field(
        default_factory=list,
        description="Departments notified; empty: the incident's own department (and, for a "
        "breach of the time to resolve, the departments it is assigned to).",
    )


class IncidentsConfig(Section):
    """Incidents: limits per kind and priority, configured escalation, the hub's worker."""

    limits: list[TimeLimit] = Field(
        default_factory=lambda: [TimeLimit.model_validate({})],
        min_length=1,
        description="Time limits; the most specific entry (kind and priority, then kind, then "
        "priority, then '*') applies. Must include a '*' entry with no priority.",
    )
    escalation: list[EscalationStep] = Field(
        default_factory=lambda: [
            EscalationStep.model_validate({"after_s": 0, "roles": [Role.supervisor]}),
            EscalationStep.model_validate({"after_s": 600, "roles": [Role.admin]}),
        ],
        min_length=1,
        max_length=10,
        description="Escalation levels of a breach, in order of after_s.",
    )
    worker: bool = Field(
        True,
        description="Run the rule listener and the escalation task in this hub process "
        "(needs database.url). Several replicas may run it: one at a time holds the lead.",
    )
    tick_s: float = Field(
        1.0, gt=0, le=60, description="How often the worker checks time limits (seconds)."
    )
    rule_overlap_s: float = Field(
        3.0,
        gt=0,
        le=60,
        description="How far back the rule listener re-reads new events: covers ingest "
        "transactions that commit out of order.",
    )
    grant_days: int = Field(
        90,
        ge=1,
        le=366,
        description="Longest life of a grant bound to an incident; closing revokes it first.",
    )
    camera_before_s: int = Field(
        60, ge=0, le=3600, description="Video attached before an event's time (seconds)."
    )
    camera_after_s: int = Field(
        120, ge=0, le=3600, description="Video attached after an event's time (seconds)."
    )
    photo_max_bytes: int = Field(
        10_000_000, ge=10_000, le=50_000_000, description="Largest photo upload (bytes)."
    )
    photo_max_pixels: int = Field(
        40_000_000, ge=10_000, le=200_000_000, description="Largest photo size (pixels)."
    )

    @model_validator(mode="after")
    def _has_default_limit(self) -> IncidentsConfig:
        if not any(lim.kind == "*" and lim.priority is None for lim in self.limits):
            raise ValueError("limits: needs a default entry (kind '*', no priority)")
        return self

    def limit_for(self, kind: str, priority: int) -> TimeLimit:
        def rank(lim: TimeLimit) -> int:
            if (lim.kind not in ("*", kind)) or (lim.priority not in (None, priority)):
                return -1
            return (2 if lim.kind == kind else 0) + (1 if lim.priority == priority else 0)

        return max(self.limits, key=rank)
