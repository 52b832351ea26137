"""MqttClient against a real Mosquitto: PUBACK futures, manual acks, persistent sessions."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.mqtt import Message, MqttClient, MqttError
from devkit.embedded import EmbeddedBroker
from devkit.fixtures.wait import until


def _prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_publish_resolves_on_puback_and_messages_arrive(broker: EmbeddedBroker) -> None:
    async def main() -> None:
        p = _prefix()
        got: list[Message] = []
        async with (
            MqttClient(broker.url, f"{p}-sub") as sub,
            MqttClient(broker.url, f"{p}-pub") as pub,
        ):
            sub.on_message = got.append
            await sub.subscribe(f"{p}/#")
            await asyncio.gather(
                *(pub.publish_nowait(f"{p}/a", str(i).encode()) for i in range(500))
            )
            assert pub.pending_publishes == 0
            await until(lambda: len(got) == 500, 15)
        assert sorted(int(m.payload) for m in got) == list(range(500))

    asyncio.run(main())


def test_unacked_messages_are_redelivered_to_a_persistent_session(broker: EmbeddedBroker) -> None:
    async def main() -> None:
        p = _prefix()
        def persistent() -> MqttClient:
            return MqttClient(broker.url, f"{p}-ingest", manual_ack=True, clean_start=False,
                              session_expiry_s=300, receive_maximum=50)

        first: list[Message] = []
        sub = persistent()
        sub.on_message = first.append
        await sub.connect()
        await sub.subscribe(f"{p}/#")
        async with MqttClient(broker.url, f"{p}-pub") as pub:
            for i in range(120):
                await pub.publish(f"{p}/x", str(i).encode())
        await until(lambda: len(first) >= 50, 15)
        await asyncio.sleep(0.3)  # the point: no more arrive for a while
        assert len(first) == 50  # receive maximum: nothing more until acked
        for m in first[:20]:
            assert sub.ack(m)
        await until(lambda: len(first) >= 70, 15)
        await sub.close()  # 50 delivered-but-unacked + 50 queued stay with the session

        again: list[Message] = []
        sub2 = persistent()

        def keep_and_ack(m: Message) -> None:
            again.append(m)
            sub2.ack(m)

        sub2.on_message = keep_and_ack
        await sub2.connect()
        await until(lambda: len({int(m.payload) for m in again}) == 100, 15)
        await sub2.close()
        assert {int(m.payload) for m in again} == set(range(20, 120))
        assert any(m.dup for m in again)  # the in-flight ones came back as duplicates

    asyncio.run(main())


@pytest.mark.fault
def test_publishes_made_while_the_broker_restarts_complete(private_broker: EmbeddedBroker) -> None:
    async def main() -> None:
        p = _prefix()
        got: set[bytes] = set()
        sub = MqttClient(
            private_broker.url,
            f"{p}-sub",
            clean_start=False,
            session_expiry_s=300,
            reconnect_delays=(0.1, 0.5),
        )
        sub.on_message = lambda m: got.add(m.payload)
        await sub.connect()
        await sub.subscribe(f"{p}/#")
        pub = MqttClient(
            private_broker.url,
            f"{p}-pub",
            clean_start=False,
            session_expiry_s=300,
            reconnect_delays=(0.1, 0.5),
        )
        await pub.connect()
        await pub.publish(f"{p}/x", b"before")
        await asyncio.get_running_loop().run_in_executor(None, private_broker.stop)
        futs = [pub.publish_nowait(f"{p}/x", f"during-{i}".encode()) for i in range(100)]
        await asyncio.sleep(0.5)  # the point: nothing is acknowledged for a while
        assert not any(f.done() for f in futs)  # no PUBACK without a broker
        await asyncio.get_running_loop().run_in_executor(None, private_broker.start)
        await asyncio.wait_for(asyncio.gather(*futs), 30)
        await until(lambda: len(got) == 101, 15)
        await pub.close()
        await sub.close()

    asyncio.run(main())


def test_unreachable_broker_is_a_clear_error() -> None:
    from core.net import free_port

    async def main() -> None:
        with pytest.raises(MqttError, match="cannot reach broker"):
            await MqttClient(f"mqtt://127.0.0.1:{free_port()}", "x").connect(timeout=3)

    asyncio.run(main())


def test_a_connection_lost_right_after_its_connack_is_connected_not_an_error() -> None:
    """A broker that answers CONNACK and drops the link at once (a restart, a load balancer):
    connect() returns and the client reconnects, as after any later drop. It used to wait
    for a connected state that had already passed and raise "no CONNACK" after 10 s."""
    connacks = 0

    async def one_connack_then_close(reader: asyncio.StreamReader,
                                     writer: asyncio.StreamWriter) -> None:
        nonlocal connacks
        await reader.read(1024)  # the CONNECT
        connacks += 1
        writer.write(b"\x20\x03\x00\x00\x00")  # MQTT 5 CONNACK: success, no properties
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(one_connack_then_close, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = MqttClient(f"mqtt://127.0.0.1:{port}", f"{_prefix()}-drop")
        try:
            await client.connect(timeout=5)
            assert client.generation >= 1
            await until(lambda: connacks >= 2, 15)  # it reconnects by itself
        finally:
            await client.close()
            server.close()

    asyncio.run(main())
