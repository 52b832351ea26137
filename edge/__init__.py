"""cityhub edge."""
