"""Helpers shared by scripts/busy_section.py and scripts/script_costs.py: JSON requests to a
replica, redis-cli against its Redis, and its EVALSHA figures. Standard library only."""
import json
import subprocess
import urllib.error
import urllib.request


def call(base, method, path, body=None):
    """(status, JSON body) of one request; a body of None sends none."""
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def call_raw(base, method, path, data, headers):
    """(status, JSON body) of one request with this exact body and these headers."""
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def evalsha_stats(port):
    """The EVALSHA fields of INFO commandstats (calls, usec, usec_per_call, failed_calls, ...),
    as strings; empty if no EVALSHA ran since the last reset."""
    for line in redis(port, "info", "commandstats").splitlines():
        if line.startswith("cmdstat_evalsha:"):
            return dict(kv.split("=") for kv in line.strip().split(":", 1)[1].split(","))
    return {}


def redis(port, *args):
    """redis-cli's output for one command."""
    return subprocess.run(["redis-cli", "-p", port, *args], capture_output=True, text=True,
                          check=True).stdout
