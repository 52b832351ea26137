"""Test harness: real PostgreSQL, Mosquitto and GStreamer cameras, private to the run.

A missing binary fails the run with the Debian package to install; nothing is skipped.
Set CITYHUB_TEST_DSN to run the store's tests against an external server (e.g. TimescaleDB).
"""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.cameras",
    "tests.fixtures.store",
    "tests.fixtures.hubapi",
    "tests.fixtures.streams",
    "tests.fixtures.ingest",
    "tests.fixtures.edge",
    "tests.fixtures.browser",
]
