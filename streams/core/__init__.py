"""Fan-out core: one upstream per camera, many consumers, no re-encoding."""
