"""The GB/T 28181 SIP service process (``cityhub sip``): protocol from ``gb28181``, state
in the store, alarms through the gb28181 adapter into the normal ingest path."""
