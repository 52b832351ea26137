"""The incident state machine (pure): which action leads from which states to which, and
which side (the filing department or an assignee) may take it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

State = Literal[
    "new", "acknowledged", "dispatched", "in_progress", "resolved", "verified", "closed",
    "reopened", "cancelled",
]
STATES: tuple[State, ...] = get_args(State)
#: Every action's name (``ACTIONS`` has one entry for each).
ActionName = Literal[
    "acknowledge", "dispatch", "start", "hand_back", "resolve", "verify", "reopen", "close",
    "cancel",
]
#: States in which the incident is still being worked on (rules merge into these).
OPEN: tuple[State, ...] = ("new", "acknowledged", "dispatched", "in_progress", "reopened")
#: States after which nothing is shared any more.
FINAL: tuple[State, ...] = ("closed", "cancelled")
Side = Literal["owner", "assignee", "either"]


@dataclass(frozen=True)
class Action:
    name: ActionName
    sources: tuple[str, ...]
    target: str | None  #: None: the state does not change (adding assignees)
    side: Side
    needs_reason: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("acknowledge", ("new",), "acknowledged", "owner"),
        Action("dispatch", ("new", "acknowledged", "reopened"), "dispatched", "owner"),
        Action("start", ("dispatched", "reopened"), "in_progress", "assignee"),
        Action("hand_back", ("dispatched", "in_progress", "reopened"), None, "assignee", True),
        Action("resolve", ("dispatched", "in_progress", "reopened"), "resolved", "either"),
        Action("verify", ("resolved",), "verified", "owner"),
        Action("reopen", ("resolved", "verified", "closed"), "reopened", "owner", True),
        Action("close", ("verified",), "closed", "owner"),
        Action("cancel", OPEN + ("resolved", "verified"), "cancelled", "owner", True),
    )
}
#: Adding assignees to an incident already dispatched keeps its state.
ASSIGN_MORE = ("dispatched", "in_progress")


class TransitionError(Exception):
    """The action is not allowed: ``code`` is stable for the UI to translate."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def target_of(action: str, state: str, side: set[str]) -> str:
    """The state after ``action`` from ``state`` by a caller on ``side`` ({"owner",
    "assignee"}), or TransitionError."""
    act = ACTIONS.get(action)
    if act is None:
        raise TransitionError("incident_unknown_action", f"no such action: {action}")
    if act.side != "either" and act.side not in side:
        raise TransitionError(
            "incident_not_your_side",
            f"{action} is for the {'filing department' if act.side == 'owner' else 'assignees'}",
        )
    if act.side == "either" and not side:
        raise TransitionError("incident_not_your_side", f"{action} needs a party to it")
    if action == "dispatch" and state in ASSIGN_MORE:
        return state
    if state not in act.sources:
        raise TransitionError("incident_bad_state", f"cannot {action} an incident {state}")
    if action == "hand_back":
        return state
    assert act.target is not None
    return act.target


def allowed(state: str, side: set[str]) -> list[str]:
    """Actions a caller on ``side`` may take now (the UI shows only these)."""
    out = []
    for name in ACTIONS:
        try:
            target_of(name, state, side)
        except TransitionError:
            continue
        out.append(name)
    return out
