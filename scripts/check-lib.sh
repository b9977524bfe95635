# Sourced by scripts/webhooks-check and scripts/tickets-check: what both need before their own
# part. After `check_setup VENV PACKAGE VERSION [--redis-cluster]`:
#   $venv/bin/python     a virtualenv with PACKAGE==VERSION (from PyPI; made once, in target/)
#   $work, pids          a temporary directory and the processes to kill at exit (both removed
#                        by the EXIT trap; every process is disowned: killed with -9, here or on
#                        purpose mid-run, it leaves no job notice in the log)
#   redis_env            what a replica needs to reach the Redis (REDIS_URL or REDIS_CLUSTER_NODES)
#   audit_args           the same for `boxoffice audit`
#   free_port            a free loopback port
# and the debug build of scripts/test is there (nothing to compile after it).

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

check_cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

check_setup() { # venv package version [--redis-cluster]
  venv=$1
  local package=$2 version=$3 topology=${4:-}
  if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$package') != '$version')" 2>/dev/null; then
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
      local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$package==$version"
  fi

  work=$(mktemp -d)
  pids=()
  trap check_cleanup EXIT

  cargo test --locked -p boxoffice --no-run

  if [ "$topology" = --redis-cluster ]; then
    local addresses=() n port nodes
    for n in 1 2 3; do
      port=$(free_port)
      mkdir -p "$work/node-$n"
      redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work/node-$n" \
        --cluster-enabled yes --cluster-config-file nodes.conf --cluster-port "$(free_port)" \
        >"$work/node-$n.log" 2>&1 &
      pids+=($!)
      disown "$!"
      addresses+=("127.0.0.1:$port")
      for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
    redis-cli --cluster create "${addresses[@]}" --cluster-yes >"$work/create.log" 2>&1 ||
      { cat "$work/create.log" >&2; exit 1; }
    for _ in $(seq 1 100); do
      redis-cli -p "${addresses[0]##*:}" cluster info | grep -q cluster_state:ok && break
      sleep 0.1
    done
    nodes=$(IFS=,; echo "${addresses[*]}")
    redis_env=(REDIS_CLUSTER_NODES="$nodes")
    audit_args=(--redis-cluster-nodes "$nodes")
    echo "on a Redis Cluster of three primaries: ${addresses[*]}"
  else
    local redis_port
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
    pids+=($!)
    disown "$!"
    redis_env=(REDIS_URL="redis://127.0.0.1:$redis_port")
    audit_args=(--redis-url "redis://127.0.0.1:$redis_port")
  fi
}
