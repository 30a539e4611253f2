#!/usr/bin/env bash
# Certificates for Redis's TLS port in remote mode (docker/compose.remote-redis.yml):
#   docker/redis-tls-certs.sh OUT_DIR [HOSTNAME/IP...]
# OUT_DIR gets ca.pem + ca.key (the CA: ca.pem goes to every worker host, ca.key stays here) and
# server.pem + server.key (Redis's certificate, valid for each HOSTNAME/IP given, plus localhost,
# 127.0.0.1 and "redis", the service's name on the project network). Workers verify the server
# against ca.pem (REDIS_URL=rediss://...?ssl_cert_reqs=required&ssl_ca_certs=/path/ca.pem).
# An existing CA in OUT_DIR is reused, so adding a name keeps the workers' ca.pem valid.
set -euo pipefail

usage() { echo "usage: $0 OUT_DIR [HOSTNAME/IP...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1
shift
command -v openssl >/dev/null || { echo "error: openssl not found (apt-get install openssl)" >&2; exit 1; }

DAYS=${REDIS_TLS_DAYS:-825}  # the longest validity clients accept for a server certificate
mkdir -p "$out"
umask 077  # the keys are readable by their owner only

san="DNS:localhost,DNS:redis,IP:127.0.0.1"
for name in "$@"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
        san+=",IP:$name"
    else
        san+=",DNS:$name"
    fi
done

if [ ! -s "$out/ca.pem" ] || [ ! -s "$out/ca.key" ]; then
    openssl req -x509 -new -nodes -newkey rsa:3072 -sha256 -days 3650 \
        -subj "/CN=avops Redis CA" -keyout "$out/ca.key" -out "$out/ca.pem" 2>/dev/null
fi

openssl req -new -nodes -newkey rsa:2048 -sha256 -subj "/CN=${1:-redis}" \
    -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null
extensions=$(mktemp)
trap 'rm -f "$extensions" "$out/server.csr"' EXIT
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' \
    "$san" >"$extensions"
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial \
    -days "$DAYS" -sha256 -extfile "$extensions" -out "$out/server.pem" 2>/dev/null

# ca.pem and server.pem are public; server.key must be readable by the Redis container's user
# (uid 999 in the official image): chown it there, or run the container as your uid.
chmod 644 "$out/ca.pem" "$out/server.pem"
echo "CA: $out/ca.pem (copy to each worker host); server certificate for: ${san//,/ }"
