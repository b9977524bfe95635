#!/bin/sh
# Creates the secrets of one boxoffice deployment in DIR, once: later runs keep them.
#
#   redis/make-secrets.sh DIR RULES [API_UID REDIS_UID]
#
#   jwt-secret            HS256 secret the replicas verify tokens with (AUTH_JWT_SECRET_FILE)
#   redis-password        password of the Redis user "boxoffice" (REDIS_PASSWORD_FILE)
#   redis-admin-password  password of the Redis user "admin" (operators; replication)
#   ticket-key.pem        Ed25519 key that signs ticket codes, PKCS#8 PEM
#                         (TICKET_SIGNING_KEY_FILE; docs/tickets.md)
#   users.acl             Redis users: "default" off, "admin" with every command, and
#                         "boxoffice" allowed only RULES (redis/acl-rules); rewritten on every
#                         run, so a change of RULES applies when Redis restarts
#   redis.conf            what every Redis node loads first: the aclfile, and how a replica
#                         authenticates to its primary
#
# docker-compose files run it in a one-shot container on a volume of its own (API_UID and
# REDIS_UID then own what each reads); scripts/cluster runs it on .cluster/secrets. Nothing
# here is ever baked into an image or committed.
set -eu
dir=$1
rules_file=$2
umask 077
mkdir -p "$dir"
chmod 755 "$dir"

random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

for name in jwt-secret redis-password redis-admin-password; do
  if [ ! -s "$dir/$name" ]; then
    random > "$dir/$name.tmp"
    mv "$dir/$name.tmp" "$dir/$name"
  fi
done
# PKCS#8 of an Ed25519 key (RFC 8410) is a fixed 16-byte header and the 32-byte seed: no
# openssl needed in the container that runs this.
if [ ! -s "$dir/ticket-key.pem" ]; then
  {
    echo "-----BEGIN PRIVATE KEY-----"
    { printf '\060\056\002\001\000\060\005\006\003\053\145\160\004\042\004\040'
      head -c 32 /dev/urandom; } | base64 -w 0
    echo
    echo "-----END PRIVATE KEY-----"
  } > "$dir/ticket-key.pem.tmp"
  mv "$dir/ticket-key.pem.tmp" "$dir/ticket-key.pem"
fi
rules=$(grep -v '^[[:space:]]*#' "$rules_file" | tr '\n' ' ')
{
  echo "user default off"
  echo "user admin on #$(sha256 "$(cat "$dir/redis-admin-password")") ~* &* +@all"
  echo "user boxoffice on #$(sha256 "$(cat "$dir/redis-password")") resetchannels $rules"
} > "$dir/users.acl.tmp"
mv "$dir/users.acl.tmp" "$dir/users.acl"
{
  echo "aclfile $dir/users.acl"
  echo "masteruser admin"
  echo "masterauth $(cat "$dir/redis-admin-password")"
} > "$dir/redis.conf.tmp"
mv "$dir/redis.conf.tmp" "$dir/redis.conf"

if [ $# -ge 4 ]; then
  chown "$3" "$dir/jwt-secret" "$dir/redis-password" "$dir/ticket-key.pem"
  chown "$4" "$dir/users.acl" "$dir/redis.conf"
fi
echo "secrets in $dir"
