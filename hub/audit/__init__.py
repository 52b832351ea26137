"""The tamper-evident audit log, daily roots, and signed evidence bundles."""
