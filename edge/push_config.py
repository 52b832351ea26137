"""Who may push to the edge box's HTTP listener (``push:`` in ``site.yaml``): each local
source system with its own HTTP Digest credentials, source addresses and adapters."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork, PrivateAttr, SecretStr, model_validator

from core.config import Section
from core.model import Ident

DigestAlgorithm = Literal["MD5", "SHA-256"]


class PushDeviceConfig(Section):
    """A local source system (ANPR camera, weigh-in-motion station) allowed to push."""

    id: Ident = Field(description="Device id, named in logs and in health's push counters.")
    username: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[^:\s\"]+$",
        description="User name the device authenticates with. Default: the id.",
    )
    password: SecretStr | None = Field(
        None,
        description="The device's password (digest needs it in clear on the box). Prefer "
        "password_file. Write-only: never logged nor published.",
    )
    password_file: Path | None = Field(
        None,
        description="File holding the password (first line); keep it 0600, `check` warns "
        "when others may read it.",
    )
    allow_from: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Source addresses or CIDRs the device may push from (empty: any). "
        "Others are answered 403.",
    )
    formats: list[Ident] = Field(
        default_factory=list,
        description="Adapters (POST /push/<format>) the device may push to (empty: every "
        "enabled one).",
    )
    basic: bool = Field(
        False,
        description="Also accept HTTP Basic from this device (the password travels in clear: "
        "only for devices that cannot do digest, on a trusted LAN).",
    )
    _secret: SecretStr = PrivateAttr()

    @model_validator(mode="after")
    def _one_password(self) -> PushDeviceConfig:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("set exactly one of password and password_file")
        if self.password_file is not None:
            try:
                text = self.password_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"password_file: cannot read it: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise ValueError("password_file: not UTF-8 text") from None
            secret = text.splitlines()[0] if text.strip() else ""
        else:
            secret = self.password.get_secret_value() if self.password else ""
        if len(secret) < 8:
            raise ValueError("the password must have at least 8 characters")
        self._secret = SecretStr(secret)
        return self

    @property
    def user(self) -> str:
        return self.username or self.id

    @property
    def secret(self) -> str:
        """The password, from wherever it was configured. Never log it."""
        return self._secret.get_secret_value()

    def allows(self, address: str | None) -> bool:
        """Whether a push from ``address`` is within the allow-list (empty list: any)."""
        if not self.allow_from:
            return True
        try:
            ip = ip_address(address or "")
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.allow_from)


class PushConfig(Section):
    devices: list[PushDeviceConfig] = Field(
        default_factory=list,
        description="Devices allowed to push, each with its own credentials. None: every push "
        "is refused (unless allow_anonymous).",
    )
    algorithms: list[DigestAlgorithm] = Field(
        default_factory=lambda: list[DigestAlgorithm](["MD5"]),
        min_length=1,
        description="Digest algorithms offered, one challenge each, preferred first; a response "
        "in another is refused. ISAPI cameras answer MD5; put SHA-256 first for RFC 7616 "
        "clients.",
    )
    realm: str | None = Field(
        None,
        max_length=128,
        pattern=r'^[^"\\]*$',
        description="Digest realm. Default: cityhub-edge <device>.",
    )
    nonce_max_age_s: float = Field(
        300.0,
        ge=10,
        le=86400,
        description="A nonce older than this is answered with a fresh one (stale=TRUE).",
    )
    allow_anonymous: bool = Field(
        False,
        description="Accept pushes without credentials (lab use only: anyone who reaches the "
        "listener can then inject events; logged as a warning at start).",
    )

    @model_validator(mode="after")
    def _unique(self) -> PushConfig:
        problems = []
        ids: set[str] = set()
        users: set[str] = set()
        for i, d in enumerate(self.devices):
            if d.id in ids:
                problems.append(f"devices.{i}.id: duplicate id {d.id!r}")
            if d.user in users:
                problems.append(f"devices.{i}.username: duplicate user name {d.user!r}")
            ids.add(d.id)
            users.add(d.user)
        if len(set(self.algorithms)) != len(self.algorithms):
            problems.append("algorithms: listed twice")
        if problems:
            raise ValueError("; ".join(problems))
        return self
