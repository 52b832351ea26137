"""The relay's HTTP API: WHEP, snapshots, clips, health, Prometheus metrics."""
