"""Incidents: an alarm becomes a case that is acknowledged, dispatched, handled, verified
and closed against time limits, across departments (the GB/T 30428 flow)."""
