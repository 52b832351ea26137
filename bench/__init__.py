"""cityhub bench."""
