"""Helpers shared by the Python of scripts/ (busy_section.py, script_costs.py, crowd.py, and the
checks webhooks-check and tickets-check): JSON requests to a replica, redis-cli against its
Redis, its EVALSHA figures, and tokens. Standard library only."""
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


def token(secret, user, role="buyer", ttl_s=3600):
    """An HS256 token as `boxoffice token` mints them (replicas in jwt mode verify it with
    AUTH_JWT_SECRET)."""
    import base64
    import hashlib
    import hmac
    import time
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
    head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = enc(json.dumps({"sub": user, "role": role, "exp": int(time.time()) + ttl_s}).encode())
    signed = head + b"." + body
    return (signed + b"." + enc(hmac.new(secret.encode(), signed, hashlib.sha256).digest())).decode()
