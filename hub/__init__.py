"""cityhub hub."""
