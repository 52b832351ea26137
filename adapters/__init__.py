"""cityhub adapters."""
