#!/bin/sh
# Creates the secrets of one boxoffice deployment in DIR, once: later runs keep them.
#
#   redis/make-secrets.sh DIR RULES [API_UID REDIS_UID]
#
#   jwt-secret            HS256 secret the replicas verify tokens with (AUTH_JWT_SECRET_FILE)
#   redis-password        password of the Redis user "boxoffice" (REDIS_PASSWORD_FILE)
#   redis-admin-password  password of the Redis user "admin" (operators; replication)
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
  chown "$3" "$dir/jwt-secret" "$dir/redis-password"
  chown "$4" "$dir/users.acl" "$dir/redis.conf"
fi
echo "secrets in $dir"
