"""Relay cluster: which relay node owns which camera (see sharding.py)."""
