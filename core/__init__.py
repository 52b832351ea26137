"""cityhub's shared core: what every package may use and nothing else.

Configuration base and the city's basic records (``core.config``), identifiers and
source systems (``core.model``), the asyncio MQTT client (``core.mqtt``), the MQTT
topic scheme (``core.topics``), logging (``core.logging``) and socket helpers
(``core.net``). It depends on no other cityhub package; see README.md.
"""
