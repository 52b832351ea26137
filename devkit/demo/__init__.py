"""The demo city: every part of cityhub on one machine, on embedded defaults."""
