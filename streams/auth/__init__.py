"""Access to streams: short-lived play tokens (see tokens.py)."""
