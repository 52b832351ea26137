"""The edge box's MQTT 5 connection: persistent session, last will, retained status.

Built on ``core.mqtt.MqttClient`` (asyncio-driven paho, PUBACK futures,
reconnects by itself). What the edge adds: it starts even when the broker is
unreachable (store-and-forward: the box keeps working and connects when it
can), a persistent session (clean_start False + session expiry, so the
subscription to ``edge/config`` and the hub's queued pushes survive
disconnects), a retained ``edge/status`` ("online" on every connect; the last
will says "offline"), and the distinction between a refused publish (ACL:
retry later, never drop) and a lost connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from core.mqtt.client import Message, MqttClient, MqttError, Will
from edge.config import EdgeConfig

log = logging.getLogger(__name__)


class PublishRefused(RuntimeError):
    """The broker answered a PUBLISH with a failure reason code (e.g. not authorised)."""


def refused(exc: BaseException) -> bool:
    return isinstance(exc, PublishRefused) or (isinstance(exc, MqttError) and "refused" in str(exc))


class Uplink:
    """One MQTT connection for the agent; ``connected`` tells whether it is up now."""

    def __init__(
        self,
        config: EdgeConfig,
        on_message: Callable[[str, bytes], None] | None = None,
        subscriptions: list[str] | None = None,
    ) -> None:
        self.config = config
        self.on_message = on_message
        self.subscriptions = subscriptions or []
        self.connected = asyncio.Event()
        self.connects = 0
        self.last_error: str | None = None
        self.status_topic = config.topic("edge", "status")
        self.client: MqttClient | None = None
        self._status_extra: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def _status(self, state: str) -> bytes:
        return json.dumps(
            {"device": self.config.device, "state": state, **self._status_extra}, default=str
        ).encode()

    def _new_client(self) -> MqttClient:
        b, u = self.config.uplink.broker, self.config.uplink
        client = MqttClient(
            b.url or "mqtt://127.0.0.1:1883",
            self.config.client_id,
            username=b.username,
            password=b.password.get_secret_value() if b.password else None,
            clean_start=False,
            session_expiry_s=u.session_expiry_s,
            keepalive_s=u.keepalive_s,
            max_inflight=u.inflight_max,
            will=Will(self.status_topic, self._status("offline"), 1, True),
            reconnect_delays=(0.5, 10.0),
        )
        client.on_connection = self._on_connection
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background (the agent does not wait for the uplink)."""
        self._task = asyncio.create_task(self._first_connect(), name="uplink-connect")

    async def _first_connect(self) -> None:
        delay = 0.5
        while not self._stopping:
            client = self._new_client()
            self.client = client  # set before connect: CONNACK callbacks look at it
            try:
                await client.connect(timeout=10)
            except MqttError as exc:
                self.last_error = str(exc)
                log.warning("uplink: %s; retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            for topic in self.subscriptions:
                try:
                    await client.subscribe(topic)
                except (MqttError, TimeoutError) as exc:
                    log.error("uplink: cannot subscribe %s: %s", topic, exc)
            return

    def _on_connection(self, up: bool) -> None:
        if up:
            self.connects += 1
            self.last_error = None
            self.connected.set()
            if self.client is not None:
                self.client.publish_nowait(self.status_topic, self._status("online"), retain=True)
        else:
            self.connected.clear()
            self.last_error = "connection lost"

    def _on_message(self, msg: Message) -> None:
        if self.on_message is not None:
            self.on_message(msg.topic, bytes(msg.payload))

    async def stop(self) -> None:
        """Say goodbye: retained 'offline' status, then a normal disconnect."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.client is None:
            return
        if self.connected.is_set():
            with contextlib.suppress(TimeoutError, MqttError):
                await asyncio.wait_for(
                    self.publish(self.status_topic, self._status("offline"), retain=True), 5
                )
        await self.client.close()
        self.connected.clear()

    def set_status(self, **extra: Any) -> None:
        """Fields added to the retained status message (e.g. the applied config version)."""
        self._status_extra.update(extra)

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]:
        """Publish; the future resolves on PUBACK (QoS 1), fails if refused or disconnected."""
        if self.client is None or not self.connected.is_set():
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            fut.set_exception(MqttError("not connected"))
            return fut
        # Data for the hub must reach a consumer: a PUBACK "no matching subscribers" (the
        # ingest's shared subscription not back yet after a broker restart) fails the future
        # so the rows stay in the outbox and go out again.
        return self.client.publish_nowait(
            topic, payload, qos, retain, require_subscriber=qos > 0 and not retain
        )

    async def publish_status(self, state: str = "online") -> None:
        with contextlib.suppress(MqttError):
            await self.publish(self.status_topic, self._status(state), retain=True)
