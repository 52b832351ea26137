"""Asyncio MQTT 5 client on paho-mqtt 2.x (shared by the hub's ingest and the edge agent)."""

from core.mqtt.client import Message, MqttClient, MqttError, NoMatchingSubscribers, Will

__all__ = ["Message", "MqttClient", "MqttError", "NoMatchingSubscribers", "Will"]
