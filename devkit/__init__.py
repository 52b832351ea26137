"""Development tools, apart from the product: the demo city, synthetic cameras,
simulators, embedded PostgreSQL and Mosquitto, and the shared test fixtures.

Tests and benchmarks use this package; no product package imports it.
"""
