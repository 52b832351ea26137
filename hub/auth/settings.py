"""The ``access`` section of the city configuration: tokens, API database role, keys."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, SecretStr, model_validator


class LoginThrottle(BaseModel):
    """Delays after failed logins, kept in PostgreSQL (table login_throttle) so that every
    hub process sees them. A delay doubles with each failure past the free ones."""

    model_config = ConfigDict(extra="forbid")

    first_delay_s: float = Field(1.0, gt=0, le=60, description="The first delay.")
    max_delay_s: float = Field(
        300, gt=0, le=3600, description="Cap of the per-source and per-(account, source) delays."
    )
    pair_free_failures: int = Field(
        3, ge=0, le=100, description="Failures one source may make on one account undelayed."
    )
    source_free_failures: int = Field(
        10,
        ge=0,
        le=1000,
        description="Failures one source may make on any accounts undelayed (higher: many "
        "people can share one NAT address).",
    )
    account_free_failures: int = Field(
        50, ge=0, le=10000, description="Failures on one account from all sources undelayed."
    )
    account_max_delay_s: float = Field(
        30,
        gt=0,
        le=300,
        description="Cap of the account-wide delay. It holds back only sources that have "
        "failed on that account themselves, and stays short: never a lockout.",
    )
    forget_s: int = Field(
        900, ge=60, le=86400, description="A key with no failure for this long starts over."
    )

    @model_validator(mode="after")
    def _forget_after_the_delays(self) -> LoginThrottle:
        if self.forget_s <= max(self.max_delay_s, self.account_max_delay_s):
            raise ValueError("forget_s must be longer than max_delay_s and account_max_delay_s")
        return self


class AccessConfig(BaseModel):
    """Authentication, authorisation and audit settings of the hub API."""

    model_config = ConfigDict(extra="forbid")

    access_token_minutes: int = Field(
        15,
        ge=1,
        le=240,
        description="Lifetime of a JWT access token; short so that a leak ages fast.",
    )
    refresh_token_days: int = Field(
        7, ge=1, le=90, description="Lifetime of a refresh token (rotated on every use)."
    )
    play_token_seconds: int = Field(
        120, ge=10, le=3600, description="Lifetime of a play token for one camera (WHEP/RTSP)."
    )
    api_database_url: SecretStr | None = Field(
        None,
        description="DSN the API connects with, as the role cityhub_api that migration 0002_access "
        "creates (not the tables' owner: row-level security applies and audit rows cannot be "
        "changed). Unset: database.url with its user replaced by cityhub_api.",
    )
    api_role_password: SecretStr | None = Field(
        None,
        description="Password of cityhub_api when api_database_url is unset; `cityhub db "
        "upgrade` sets it on the role (SCRAM-SHA-256), which SCRAM servers require.",
    )
    relay_http_url: str = Field(
        "http://127.0.0.1:8889",
        description="Base URL of the media relay's HTTP side as viewers reach it (WHEP: "
        "<base>/whep/<camera> with the play token as Bearer). With cluster.nodes the owner's "
        "http_url is used instead.",
    )
    relay_rtsp_url: str = Field(
        "rtsp://127.0.0.1:8554",
        description="Base URL of the relay's RTSP side (<base>/<camera>?token=<play token>).",
    )
    credentials_key: SecretStr | None = Field(
        None,
        description="Fernet key (urlsafe base64, 32 bytes) that encrypts camera credentials at "
        "rest. Unset: derived from hub.secret_key.",
    )
    signing_key_file: Path | None = Field(
        None,
        description="Ed25519 private key (PEM) that signs evidence manifests and audit roots. "
        "Unset: state_dir/keys/evidence-ed25519.pem, created on first use.",
    )
    media_dir: Path | None = Field(
        None,
        description="Folder where snapshots and clips named by events live (relative media "
        "URIs resolve under it). Unset: state_dir/media.",
    )
    audit_roots_dir: Path | None = Field(
        None, description="Where daily audit root files are written. Unset: state_dir/audit-roots."
    )
    login_throttle: LoginThrottle = Field(
        default_factory=LoginThrottle,
        description="Growing delays after failed logins (hub/auth/README.md, Login throttle).",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Reverse proxies whose X-Forwarded-For is believed when naming the source "
        "of a login (e.g. [10.0.0.0/8] for an ingress). Empty: the peer address itself.",
    )
