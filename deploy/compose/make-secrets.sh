#!/bin/sh
# Every secret of the compose site as a file in DIR (default ./secrets), for compose's
# `secrets:`. Run after `cityhub broker users --out broker`. Re-runs keep existing files;
# delete one to rotate it (deploy/README.md, Security: rotation).
set -eu
dir=${1:-secrets}
broker=${BROKER_DIR:-broker}
umask 077
mkdir -p "$dir"

put() {  # put NAME VALUE: DIR/NAME holds VALUE, unless it already holds something
    [ -s "$dir/$1" ] || printf '%s\n' "$2" > "$dir/$1"
}
put postgres-password "$(openssl rand -hex 24)"
put database-url "postgresql://cityhub:$(cat "$dir/postgres-password")@timescaledb:5432/cityhub"
put api-role-password "$(openssl rand -hex 24)"
put secret-key "$(openssl rand -hex 32)"
# Fernet key (urlsafe base64 of 32 random bytes): seals camera credentials at rest
put credentials-key "$(openssl rand -base64 32 | tr '+/' '-_')"
for svc in hub ingest; do
    cp "$broker/credentials/cityhub-$svc.password" "$dir/broker-$svc"
done
for edge in "$broker"/credentials/edge-*.password; do
    cp "$edge" "$dir/broker-edge"  # the compose site's one edge box
done

# Bind-mounted as they are: each file must be readable by the user its container runs as.
if [ "$(id -u)" = 0 ]; then
    chown -R "${CITYHUB_OWNER:-10001:10001}" "$dir"                  # the cityhub image
    chown "${PG_OWNER:-70:70}" "$dir/postgres-password"               # timescaledb (postgres)
fi
echo "$dir: secrets ready; add camera-<id> files holding each camera's user:password"
