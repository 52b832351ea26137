#!/bin/bash
# Runs once on the primary's first start (docker-entrypoint-initdb.d): a replication
# role for the read replicas and the pg_hba line that lets them stream WAL.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -v pw="$REPLICATION_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'pw';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
