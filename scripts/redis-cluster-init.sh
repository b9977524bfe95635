#!/bin/sh
# Creates the Redis Cluster of docker-compose.cluster.yml once: three primaries, one replica
# each. A cluster that exists already (the nodes keep it on their volumes) is left as it is.
# Runs as the Redis user "admin", whose password redis/make-secrets.sh made.
set -eu
nodes="redis-1 redis-2 redis-3 redis-4 redis-5 redis-6"
cli() { redis-cli --no-auth-warning --user admin --pass "$(cat /run/boxoffice/redis-admin-password)" "$@"; }
if cli -h redis-1 cluster info | grep -q 'cluster_known_nodes:6'; then
  echo "redis-cluster-init: the cluster exists"
  exit 0
fi
addresses=""
for node in $nodes; do
  ip=$(getent hosts "$node" | awk '{ print $1 }')
  addresses="$addresses $ip:6379"
done
# shellcheck disable=SC2086
cli --cluster create $addresses --cluster-replicas 1 --cluster-yes
for _ in $(seq 1 60); do
  if cli -h redis-1 cluster info | grep -q 'cluster_state:ok'; then
    echo "redis-cluster-init: cluster created"
    exit 0
  fi
  sleep 1
done
echo "redis-cluster-init: the cluster did not become ok" >&2
exit 1
