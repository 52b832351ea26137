"""An asyncio MQTT 5 client on paho-mqtt 2.x, driven by the event loop (no network thread:
``core.mqtt.driver``).

Callbacks run in the loop's thread and must stay short: consumers get messages through
``on_message`` and do their work elsewhere. ``await publish()`` returns when the broker's
PUBACK arrives (or raises if the broker refused); messages published while disconnected
stay in paho's session and are sent on reconnect. With ``manual_ack`` a consumer calls
``ack(message)`` only once the message is safely processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.mqtt.driver import LoopDriver
from core.mqtt.types import (
    NO_MATCHING_SUBSCRIBERS,
    Message,
    MqttError,
    NoMatchingSubscribers,
    Will,
    split_url,
)

__all__ = ["Message", "MqttClient", "MqttError", "NoMatchingSubscribers", "Will", "split_url"]

log = logging.getLogger(__name__)


class MqttClient:
    """One MQTT 5 connection with reconnects, PUBACK futures and manual acks."""

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        receive_maximum: int | None = None,
        manual_ack: bool = False,
        keepalive_s: int = 30,
        max_inflight: int = 1000,
        will: Will | None = None,
        tls_context: ssl.SSLContext | None = None,
        reconnect_delays: tuple[float, float] = (0.2, 10.0),
    ) -> None:
        self.host, self.port, tls = split_url(url)
        self.client_id = client_id
        self.clean_start = clean_start
        self.session_expiry_s = session_expiry_s
        self.receive_maximum = receive_maximum
        self.keepalive_s = keepalive_s
        self.reconnect_delays = reconnect_delays
        self.on_message: Callable[[Message], None] | None = None
        self.on_connection: Callable[[bool], None] | None = None  #: called with True/False
        self.generation = 0
        self.connected = asyncio.Event()
        self._subs: dict[str, int] = {}
        self._pending: dict[int, tuple[asyncio.Future[None], bool]] = {}
        self._acked_early: dict[int, ReasonCode | None] = {}
        self._sub_waits: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._connect_failed: MqttError | None = None
        #: set by the CONNACK that ``connect()`` waits for (made before connecting: it may
        #: come at once)
        self._connack = asyncio.Event()

        c = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            manual_ack=manual_ack,
        )
        if username is not None:
            c.username_pw_set(username, password)
        if tls:
            c.tls_set_context(tls_context or ssl.create_default_context())
        if will is not None:
            c.will_set(will.topic, will.payload, will.qos, will.retain)
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        c.on_subscribe = self._on_subscribe
        self._paho = c
        self._driver = LoopDriver(c)

    # -- lifecycle -----------------------------------------------------------------------------

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        if self.session_expiry_s:
            props.SessionExpiryInterval = self.session_expiry_s
        if self.receive_maximum:
            props.ReceiveMaximum = self.receive_maximum
        return props

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect and wait for the CONNACK; later drops reconnect by themselves (a connection
        lost right after its CONNACK too, by ``_reconnect``)."""
        loop = self._driver.bind()
        await loop.run_in_executor(None, self._blocking_connect)
        self._tasks.append(
            asyncio.create_task(self._driver.keep_alive(), name=f"mqtt-misc-{self.client_id}")
        )
        try:
            await asyncio.wait_for(self._connack.wait(), timeout)
        except TimeoutError:
            await self.close()
            raise MqttError(
                f"no CONNACK from {self.host}:{self.port} within {timeout:.0f}s"
            ) from None
        if self._connect_failed:
            await self.close()
            raise self._connect_failed

    def _blocking_connect(self) -> None:
        try:
            self._paho.connect(
                self.host,
                self.port,
                self.keepalive_s,
                clean_start=self.clean_start,
                properties=self._connect_properties(),
            )
        except OSError as exc:
            raise MqttError(f"cannot reach broker {self.host}:{self.port}: {exc}") from None

    async def close(self) -> None:
        """Disconnect cleanly (no last will); pending publishes fail."""
        self._closing = True
        if self._paho.is_connected():
            self._paho.disconnect()
            with contextlib.suppress(Exception):
                self._paho.loop_write()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self._driver.release()
        for fut, _ in self._pending.values():
            if not fut.done():
                fut.set_exception(MqttError("client closed before PUBACK"))
        self._pending.clear()

    async def __aenter__(self) -> MqttClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _reconnect(self) -> None:
        delay, max_delay = self.reconnect_delays
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self._driver.running.run_in_executor(None, self._paho.reconnect)
                return
            except (OSError, MqttError) as exc:
                log.warning(
                    "mqtt %s: reconnect to %s:%s failed: %s",
                    self.client_id,
                    self.host,
                    self.port,
                    exc,
                )
                delay = min(delay * 2, max_delay)

    # -- paho callbacks (run in the loop thread) -------------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            self._connect_failed = MqttError(f"broker refused the connection: {reason}")
            log.error("mqtt %s: connection refused: %s", self.client_id, reason)
            self._driver.call(self._connack.set)
            return
        self.generation += 1
        log.info(
            "mqtt %s: connected to %s:%s (session present: %s)",
            self.client_id,
            self.host,
            self.port,
            flags.session_present,
        )
        for topic, qos in self._subs.items():  # harmless when the session kept them
            client.subscribe(topic, qos)
        self._driver.call(self.connected.set)
        self._driver.call(self._connack.set)
        if self.on_connection:
            self.on_connection(True)

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if self._driver.loop is None:
            return

        def lost() -> None:
            self.connected.clear()
            if self.on_connection:
                self.on_connection(False)
            if not self._closing:
                log.warning("mqtt %s: disconnected (%s); reconnecting", self.client_id, reason)
                self._tasks.append(asyncio.create_task(self._reconnect()))

        self._driver.call(lost)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        handler = self.on_message
        payload = msg.payload if isinstance(msg.payload, bytes) else bytes(msg.payload)
        message = Message(
            msg.topic, payload, msg.qos, msg.retain, msg.mid, bool(msg.dup), self.generation
        )
        if handler is None:
            self.ack(message)
            return
        try:
            handler(message)
        except Exception:  # a consumer bug must not break the network loop
            log.exception("mqtt %s: on_message handler failed", self.client_id)

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode | None,
        properties: Any,
    ) -> None:
        entry = self._pending.pop(mid, None)
        if entry is None:  # PUBACK raced ahead of the future's registration (QoS 0, sync send)
            self._acked_early[mid] = reason
            return
        fut, require_subscriber = entry
        if not fut.done():
            self._settle(fut, reason, require_subscriber)

    @staticmethod
    def _settle(
        fut: asyncio.Future[None], reason: ReasonCode | None, require_subscriber: bool
    ) -> None:
        if reason is not None and reason.is_failure:
            fut.set_exception(MqttError(f"broker refused the publish: {reason}"))
        elif require_subscriber and reason is not None and reason.value == NO_MATCHING_SUBSCRIBERS:
            fut.set_exception(NoMatchingSubscribers("no subscriber matched the publish"))
        else:
            fut.set_result(None)

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Any,
    ) -> None:
        fut = self._sub_waits.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(reasons)

    # -- API -------------------------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        require_subscriber: bool = False,
    ) -> None:
        """Publish and wait for the broker's acknowledgement (PUBACK for QoS 1).

        ``require_subscriber``: raise NoMatchingSubscribers when nobody received it."""
        await self.publish_nowait(topic, payload, qos, retain, require_subscriber)

    async def deliver(
        self, topic: str, payload: bytes | str, retry_s: float = 0.5, timeout: float | None = None
    ) -> None:
        """Publish at QoS 1 until a subscriber matched: for data that must reach a consumer
        even while consumers are resubscribing after a broker restart."""
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while True:
            try:
                await self.publish_nowait(topic, payload, 1, False, True)
                return
            except NoMatchingSubscribers:
                if end is not None and loop.time() + retry_s > end:
                    raise
                await asyncio.sleep(retry_s)

    def publish_nowait(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        require_subscriber: bool = False,
    ) -> asyncio.Future[None]:
        """Queue a publish; the returned future resolves on PUBACK (many may be in flight)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        info = self._paho.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (
            MQTTErrorCode.MQTT_ERR_SUCCESS,
            MQTTErrorCode.MQTT_ERR_NO_CONN,
            MQTTErrorCode.MQTT_ERR_QUEUE_SIZE,
        ):
            fut.set_exception(MqttError(f"publish failed: {paho.error_string(info.rc)}"))
            return fut
        if info.mid in self._acked_early:
            self._settle(fut, self._acked_early.pop(info.mid), require_subscriber)
        else:
            self._pending[info.mid] = (fut, require_subscriber)
        return fut

    async def subscribe(self, topic: str, qos: int = 1, timeout: float = 10.0) -> None:
        """Subscribe (kept across reconnects); raise if the broker refuses it."""
        self._subs[topic] = qos
        rc, mid = self._paho.subscribe(topic, qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise MqttError(f"subscribe {topic} failed: {paho.error_string(rc)}")
        fut: asyncio.Future[list[ReasonCode]] = asyncio.get_running_loop().create_future()
        self._sub_waits[mid] = fut
        reasons = await asyncio.wait_for(fut, timeout)
        if any(r.is_failure for r in reasons):
            raise MqttError(f"broker refused subscription {topic}: {reasons[0]}")

    def ack(self, message: Message) -> bool:
        """Acknowledge a message (manual-ack mode). False if it came on an earlier connection:
        the broker redelivers those, so acking them here could acknowledge the wrong message."""
        if message.qos == 0 or message.generation != self.generation:
            return False
        self._paho.ack(message.mid, message.qos)
        return True

    @property
    def pending_publishes(self) -> int:
        return len(self._pending)
