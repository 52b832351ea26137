"""HTTP Digest (RFC 2617; SHA-256 of RFC 7616), shared by the SIP service (GB/T 28181-2016
requires MD5, 2022-edition devices may ask for SHA-256) and the edge box's push listener
(ISAPI cameras answer MD5 digest challenges).

Nonces are stateless (a timestamp signed with the service's secret), so any SIP
service instance of a city checks what another instance issued. Replays within a
nonce's lifetime are the caller's to refuse (the push listener remembers nonce counts).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def _h(algorithm: str, text: str) -> str:
    return ALGORITHMS[algorithm](text.encode()).hexdigest()


def params(header: str) -> dict[str, str]:
    """The name=value pairs of a Digest header (scheme word removed)."""
    body = header.strip()
    if body[:6].lower() == "digest":
        body = body[6:]
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PARAM.finditer(body)}


def make_nonce(secret: bytes, now: float | None = None) -> str:
    stamp = f"{int(now or time.time()):x}.{secrets.token_hex(4)}"
    sig = hmac.new(secret, stamp.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{stamp}.{sig}"


def nonce_age(secret: bytes, nonce: str, now: float | None = None) -> float | None:
    """Seconds since ``nonce`` was issued with ``secret``; None if it was not (forged, garbled)."""
    try:
        stamp_hex, salt, sig = nonce.split(".")
        stamp = int(stamp_hex, 16)
    except ValueError:
        return None
    good = hmac.new(secret, f"{stamp_hex}.{salt}".encode(), hashlib.sha256).hexdigest()[:16]
    if not hmac.compare_digest(good.encode(), sig.encode()):
        return None
    return (now or time.time()) - stamp


def nonce_fresh(secret: bytes, nonce: str, max_age: float, now: float | None = None) -> bool:
    age = nonce_age(secret, nonce, now)
    return age is not None and 0 <= age <= max_age


def challenge(realm: str, nonce: str, algorithm: str = "MD5", stale: bool = False) -> str:
    out = f'Digest realm="{realm}",nonce="{nonce}",algorithm={algorithm},qop="auth"'
    return out + (",stale=TRUE" if stale else "")


def expected(p: dict[str, str], method: str, password: str) -> str:
    """The response value the peer must have sent for parameters ``p``."""
    algorithm = p.get("algorithm", "MD5").upper()
    ha1 = _h(algorithm, f"{p.get('username', '')}:{p.get('realm', '')}:{password}")
    ha2 = _h(algorithm, f"{method}:{p.get('uri', '')}")
    if p.get("qop"):
        return _h(algorithm, f"{ha1}:{p.get('nonce', '')}:{p.get('nc', '')}:"
                             f"{p.get('cnonce', '')}:{p['qop']}:{ha2}")
    return _h(algorithm, f"{ha1}:{p.get('nonce', '')}:{ha2}")


def verify(header: str, method: str, password: str) -> bool:
    p = params(header)
    if p.get("algorithm", "MD5").upper() not in ALGORITHMS or "response" not in p:
        return False
    return hmac.compare_digest(expected(p, method, password).encode(),
                               p["response"].lower().encode())


def authorization(www_authenticate: str, method: str, uri: str, username: str,
                  password: str) -> str:
    """The client side: an Authorization header answering a challenge."""
    c = params(www_authenticate)
    algorithm = c.get("algorithm", "MD5").upper()
    p = {"username": username, "realm": c.get("realm", ""), "nonce": c.get("nonce", ""),
         "uri": uri, "algorithm": algorithm}
    if "auth" in (c.get("qop") or ""):
        p.update(qop="auth", nc="00000001", cnonce=secrets.token_hex(8))
    p["response"] = expected(p, method, password)
    if "opaque" in c:  # echoed as received (RFC 7616 3.4)
        p["opaque"] = c["opaque"]
    quoted = ",".join(f'{k}="{v}"' if k not in ("algorithm", "qop", "nc") else f"{k}={v}"
                      for k, v in p.items())
    return f"Digest {quoted}"
