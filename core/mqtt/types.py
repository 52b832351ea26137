"""What the MQTT client hands out and takes: messages, wills, errors, broker URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


class MqttError(RuntimeError):
    """The broker refused something (connection, publish, subscription) or is unreachable."""


class NoMatchingSubscribers(MqttError):
    """The broker accepted a publish but nobody was subscribed (MQTT 5 PUBACK reason 0x10).

    Mosquitto 2.0 does not restore shared subscriptions from its persistence after a
    restart: until the consumers resubscribe, messages to them are dropped with this
    reason. A publisher that must not lose data retries (``deliver``).
    """


NO_MATCHING_SUBSCRIBERS = 0x10  #: MQTT 5 PUBACK reason code


@dataclass(frozen=True)
class Message:
    """A received message; ``generation`` counts connections so stale acks are never sent."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    dup: bool
    generation: int


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def split_url(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(
            f"broker url must be mqtt://host:port or mqtts://host:port, got {parts.scheme!r}"
        )
    tls = parts.scheme in ("mqtts", "ssl")
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls
