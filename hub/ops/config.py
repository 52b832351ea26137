"""The ``ops`` section: what the hub watches for the people on call."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.config import Section


class OpsConfig(Section):
    watch_disks: list[Path] = Field(
        default_factory=list,
        description=(
            "Filesystems whose free space the hub exports (cityhub_disk_free_ratio); the state "
            "directory is always watched. Add the recordings and database volumes."
        ),
    )
    watch_certificates: list[Path] = Field(
        default_factory=list,
        description=(
            "PEM certificates whose expiry the hub exports (cityhub_tls_cert_not_after_seconds): "
            "the broker's server certificate, the city CA, the relay's HTTPS certificate."
        ),
    )
    audit_verify_every_s: float = Field(
        3600.0,
        ge=0,
        description=(
            "How often the hub verifies the whole audit chain in the background and exports the "
            "result (cityhub_audit_verify_ok); 0 turns it off."
        ),
    )
