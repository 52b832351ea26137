#!/usr/bin/env bash
# A private certificate authority for one city, and server certificates signed by it.
#
#   deploy/tls/make-ca.sh OUT_DIR NAME [SAN ...]
#
# Creates OUT_DIR/ca.{key,crt} once (kept on later runs), then OUT_DIR/NAME.{key,crt}
# for a server with the given subjectAltNames (DNS names or IP addresses), e.g.
#   deploy/tls/make-ca.sh deploy/compose/tls broker mosquitto broker.city.example 10.20.0.5
# Keys are ECDSA P-256, mode 0600. Never commit OUT_DIR (deploy/.gitignore excludes it);
# keep ca.key offline once the certificates are issued. KEY_OWNER=uid:gid chowns the
# server key (1883:1883 for the eclipse-mosquitto image). Copy only ca.crt to edge boxes.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
out=$1; name=$2; shift 2
command -v openssl >/dev/null || { echo "openssl not found: apt-get install openssl" >&2; exit 1; }
umask 077
mkdir -p "$out"
days_ca=${CA_DAYS:-3650}
days=${CERT_DAYS:-825}

if [ ! -f "$out/ca.key" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$out/ca.key"
  openssl req -x509 -new -key "$out/ca.key" -sha256 -days "$days_ca" \
    -subj "/O=cityhub/CN=cityhub private CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$out/ca.crt"
fi

san="DNS:$name,DNS:localhost,IP:127.0.0.1"
for alt in "$@"; do
  if [[ $alt =~ ^[0-9.]+$ || $alt == *:* ]]; then san+=",IP:$alt"; else san+=",DNS:$alt"; fi
done
ext=$(mktemp)
trap 'rm -f "$ext" "$out/$name.csr"' EXIT
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" > "$ext"
openssl ecparam -name prime256v1 -genkey -noout -out "$out/$name.key"
openssl req -new -key "$out/$name.key" -subj "/O=cityhub/CN=$name" -out "$out/$name.csr"
openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -days "$days" -sha256 -extfile "$ext" -out "$out/$name.crt"
chmod 0644 "$out/ca.crt" "$out/$name.crt"
# The server reads its own key: KEY_OWNER=1883:1883 for the eclipse-mosquitto image.
chmod 0640 "$out/$name.key"
if [ -n "${KEY_OWNER:-}" ]; then chown "$KEY_OWNER" "$out/$name.key"; fi
echo "$out/$name.crt signed by $out/ca.crt (SAN $san)"
