"""The discovery report: one ONVIF device an edge box found on its network, as sent on
``city/{department}/{site}/edge/discovery`` (packed ``{"discovery": [report, ...]}``).

Shared by the edge (which writes it) and hub ingest (which validates it): bounded in
every field, since a camera's WS-Discovery answer is untrusted input.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from core.model import Ident

#: A device service URL (the key of a pending camera, with the department).
XAddr = Annotated[str, StringConstraints(min_length=8, max_length=512,
                                         pattern=r"^https?://[^\s\x00]+$")]
Word = Annotated[str, StringConstraints(max_length=512, pattern=r"^[^\x00-\x1f]*$")]
Label = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f]*$")]


class DiscoveryReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: Ident = Field(description="The edge box that found it.")
    endpoint: Word = Field("", description="The device's endpoint reference (urn:uuid:...).")
    xaddrs: list[XAddr] = Field(min_length=1, max_length=8,
                                description="Its device service URLs; the first is its key.")
    scopes: list[Word] = Field(default_factory=list, max_length=32)
    types: list[Word] = Field(default_factory=list, max_length=16)
    name: Label = Field("", description="From the onvif://www.onvif.org/name/ scope.")
    hardware: Label = Field("", description="From the onvif://www.onvif.org/hardware/ scope.")
    first_seen: AwareDatetime = Field(description="First probe of this box that found it.")
    last_seen: AwareDatetime = Field(description="The probe this report comes from.")

    @property
    def xaddr(self) -> str:
        return self.xaddrs[0]
