"""Identifiers, places and source systems: the words every cityhub package shares."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: Identifiers used in topics and database keys: short, printable, no MQTT wildcards.
Ident = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]


class SourceSystem(enum.StrEnum):
    """The city systems cityhub joins."""

    safecity = "safecity"  #: public-security video alarms (ISAPI, GB/T 28181)
    traffic = "traffic"  #: traffic police, ANPR
    citymgmt = "citymgmt"  #: city-management cases
    overload = "overload"  #: weigh-in-motion overload-checking stations
    bus = "bus"  #: smart buses
    sensor = "sensor"  #: MQTT/SenML sensors
    edge = "edge"  #: analytics on cityhub's own edge boxes
    hub = "hub"  #: the hub itself (camera online/offline and the like)


class Location(BaseModel):
    """WGS-84 position."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
