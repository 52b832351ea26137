"""Test harness: real PostgreSQL, Mosquitto and GStreamer cameras, private to the run.

A missing binary fails the run with the Debian package to install; nothing is skipped.
Set CITYHUB_TEST_DSN to run the store's tests against an external server (e.g. TimescaleDB).
"""

pytest_plugins = [
    "devkit.fixtures.services",
    "devkit.fixtures.cameras",
    "devkit.fixtures.store",
    "devkit.fixtures.hubapi",
    "devkit.fixtures.streams",
    "devkit.fixtures.ingest",
    "devkit.fixtures.edge",
    "devkit.fixtures.browser",
    "devkit.fixtures.onvif",
    "devkit.fixtures.logscan",  # last: at the end, no credentials in any log of the run
]
