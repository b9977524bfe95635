#!/bin/sh
# nginx in front of every replica of the "api" service, kept current as replicas come and go.
#
# Docker's DNS answers the service name with one address per running replica. Every
# RESOLVE_INTERVAL seconds this script resolves it again and, when the set changed, rewrites
# upstream.conf and reloads nginx (gracefully: in-flight requests finish). This keeps a real
# upstream block, hence keepalive connections to the replicas, on any nginx version; nginx
# 1.27.3+ could do the re-resolving alone with "server api:3000 resolve".
set -eu

service=${API_SERVICE:-api}
port=${API_PORT:-3000}
interval=${RESOLVE_INTERVAL:-5}
work=/tmp/boxoffice-nginx
conf_dir=$(dirname "$0")

mkdir -p "$work/tmp"
cp "$conf_dir/nginx.conf" "$work/nginx.conf"

upstreams() {
  getent ahostsv4 "$service" 2>/dev/null | awk '{ print $1 }' | sort -u |
    while read -r ip; do echo "server $ip:$port max_fails=1 fail_timeout=5s;"; done
}

until [ -n "$(upstreams)" ]; do
  echo "entrypoint: waiting for $service to resolve"
  sleep 1
done
upstreams > "$work/upstream.conf"
echo "entrypoint: $(wc -l < "$work/upstream.conf") replica(s) of $service"

nginx -p "$work/" -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
trap 'kill -QUIT "$nginx_pid" 2>/dev/null; wait "$nginx_pid"; exit 0' TERM INT QUIT

while kill -0 "$nginx_pid" 2>/dev/null; do
  sleep "$interval" &
  wait $! || true
  current=$(upstreams)
  # No answer at all (every replica down, or DNS hiccup): keep the last known set.
  if [ -n "$current" ] && [ "$current" != "$(cat "$work/upstream.conf")" ]; then
    echo "$current" > "$work/upstream.conf"
    nginx -p "$work/" -c "$work/nginx.conf" -s reload
    echo "entrypoint: now $(echo "$current" | wc -l) replica(s) of $service"
  fi
done
wait "$nginx_pid"
