"""Operations: what the people on call need from the hub (ops metrics, backup and restore)."""
