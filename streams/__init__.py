"""cityhub streams."""
