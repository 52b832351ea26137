"""Who may push to the listener: each device with its own credentials (``push.devices``).

HTTP Digest (RFC 7616/2617, qop=auth; MD5 as ISAPI cameras answer it, SHA-256 where
configured) through ``core.digest``, HTTP Basic only for a device configured with
``basic``, an optional source-address allow-list and an optional list of formats per
device. Nonces are signed timestamps (stateless); a nonce older than
``nonce_max_age_s`` is answered with a fresh one (``stale=TRUE``), and each nonce count
is accepted once, so a captured request cannot be sent again.

Every refusal is counted by reason (health's ``push.refused``); the ones that are not
a normal step of the handshake are logged at warning with device, address and reason,
never the credentials.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from core import digest
from edge.config import EdgeConfig
from edge.push_config import PushDeviceConfig

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
#: Reasons that are a normal step of the digest handshake (logged at info, not warning).
HANDSHAKE = frozenset({"missing", "stale"})
#: The most nonce counts remembered for one nonce; past it the device gets a fresh nonce.
MAX_COUNTS_PER_NONCE = 100_000


@dataclass(frozen=True)
class Verdict:
    """Accepted (``status`` 200, ``device`` set) or refused with 401/403 and a reason."""

    status: int
    reason: str = ""
    device: str | None = None
    stale: bool = False

    @property
    def accepted(self) -> bool:
        return self.status == 200


class PushAuth:
    """Checks one push's credentials and address; thread-safe counters for health."""

    def __init__(self, config: EdgeConfig, secret: bytes | None = None) -> None:
        self.push = config.push
        self.realm = config.realm
        self.by_user = {d.user: d for d in config.push.devices}
        self.by_id = {d.id: d for d in config.push.devices}
        self._secret = secret or secrets.token_bytes(32)  # per process: a restart re-challenges
        self._lock = threading.Lock()
        self._counts: dict[str, set[int]] = {}  #: nonce -> nonce counts already accepted
        self._pruned = time.monotonic()
        self.accepted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        #: every device has an allow-list: an address outside all of them is refused at once
        self._fenced = (
            not config.push.allow_anonymous
            and bool(config.push.devices)
            and all(d.allow_from for d in config.push.devices)
        )

    def check(
        self, authorization: str | None, method: str, uri: str, address: str | None, fmt: str
    ) -> Verdict:
        """The verdict on one push (``uri``: the request target, path and query)."""
        verdict = self._verdict(authorization, method, uri, address, fmt)
        with self._lock:
            if verdict.accepted:
                self.accepted[verdict.device or ANONYMOUS] += 1
            else:
                self.refused[verdict.reason] += 1
        if not verdict.accepted:
            level = logging.INFO if verdict.reason in HANDSHAKE else logging.WARNING
            log.log(level, "push refused (%d %s): device=%s address=%s format=%r",
                    verdict.status, verdict.reason, verdict.device or "-", address, fmt[:40])
        return verdict

    def challenges(self, stale: bool = False) -> list[str]:
        """One ``WWW-Authenticate`` value per offered algorithm, preferred first."""
        nonce = digest.make_nonce(self._secret)
        return [digest.challenge(self.realm, nonce, a, stale) for a in self.push.algorithms]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"accepted": dict(self.accepted), "refused": dict(self.refused)}

    # -- the checks ----------------------------------------------------------------------

    def _verdict(
        self, authorization: str | None, method: str, uri: str, address: str | None, fmt: str
    ) -> Verdict:
        if self._fenced and not any(d.allows(address) for d in self.push.devices):
            return Verdict(403, "address")
        if not authorization:
            if self.push.allow_anonymous:
                return Verdict(200, device=ANONYMOUS)
            return Verdict(401, "missing")
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() == "digest":
            verdict = self._digest(rest, method, uri, address)
        elif scheme.lower() == "basic":
            verdict = self._basic(rest, address)
        else:
            verdict = Verdict(401, "malformed")
        if verdict.accepted and not self._may_push(verdict.device, fmt):
            return Verdict(403, "format", verdict.device)
        return verdict

    def _identify(self, user: str | None, address: str | None) -> PushDeviceConfig | Verdict:
        device = self.by_user.get(user or "")
        if device is None:
            return Verdict(401, "unknown_user")
        if not device.allows(address):
            return Verdict(403, "address", device.id)
        return device

    def _digest(self, header: str, method: str, uri: str, address: str | None) -> Verdict:
        p = digest.params(header)
        found = self._identify(p.get("username"), address)
        if isinstance(found, Verdict):
            return found
        algorithm = p.get("algorithm", "MD5").upper()
        if (
            p.get("realm") != self.realm
            or algorithm not in self.push.algorithms
            or p.get("qop") != "auth"
            or not _same_target(p.get("uri", ""), uri)
            or not all(p.get(k) for k in ("nonce", "nc", "cnonce", "response"))
        ):
            return Verdict(401, "malformed", found.id)
        try:
            count = int(p["nc"], 16)
        except ValueError:
            return Verdict(401, "malformed", found.id)
        age = digest.nonce_age(self._secret, p["nonce"])
        if age is None or age < -5:  # not ours (or from a previous run), or from the future
            return Verdict(401, "stale", found.id, stale=True)
        if not digest.verify(header, method, found.secret):
            return Verdict(401, "wrong_password", found.id)
        if age > self.push.nonce_max_age_s:
            return Verdict(401, "stale", found.id, stale=True)
        if not self._first_use(p["nonce"], count):
            return Verdict(401, "replay", found.id, stale=True)
        return Verdict(200, device=found.id)

    def _basic(self, token: str, address: str | None) -> Verdict:
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode()
            user, sep, password = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return Verdict(401, "malformed")
        if not sep:
            return Verdict(401, "malformed")
        found = self._identify(user, address)
        if isinstance(found, Verdict):
            return found
        if not found.basic:
            return Verdict(401, "basic_not_allowed", found.id)
        if not hmac.compare_digest(password.encode(), found.secret.encode()):
            return Verdict(401, "wrong_password", found.id)
        return Verdict(200, device=found.id)

    def _may_push(self, device_id: str | None, fmt: str) -> bool:
        device = self.by_id.get(device_id or "")
        return device is None or not device.formats or fmt in device.formats

    def _first_use(self, nonce: str, count: int) -> bool:
        """Remember (nonce, count); False if it was seen before (a replay)."""
        with self._lock:
            self._prune()
            seen = self._counts.setdefault(nonce, set())
            if count in seen or len(seen) >= MAX_COUNTS_PER_NONCE:
                return False
            seen.add(count)
            return True

    def _prune(self) -> None:
        """Forget the counts of nonces past their age (they are refused as stale anyway)."""
        if time.monotonic() - self._pruned < 10:
            return
        self._pruned = time.monotonic()
        limit = self.push.nonce_max_age_s + 5
        for nonce in list(self._counts):
            age = digest.nonce_age(self._secret, nonce)
            if age is None or age > limit:
                del self._counts[nonce]


def _same_target(claimed: str, target: str) -> bool:
    """The digest ``uri`` names this request (origin form, or absolute form with any host)."""
    if "://" in claimed:
        rest = claimed.split("://", 1)[1]
        claimed = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return hmac.compare_digest(claimed.encode(), target.encode())
