#!/usr/bin/env python3
"""The hardening issue's attacks, run against real replicas, with the figures they leave.

    cargo build --release && scripts/attack_figures.py

Starts its own redis-server and two replicas (jwt mode, the defaults unless said), runs each
attack as the issue describes it, and prints one line of figures per attack: what the
replicas held afterwards (RSS, metric series, sockets, Redis clients and commands) and what
the attackers got. The tests in tests/suite/security/attacks.rs assert the same behaviour;
this prints the sizes.
"""

import http.client
import json
import os
import random
import socket
import string
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "boxoffice")
SECRET = "attack-figures-secret-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what):
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"{what} did not listen on {port}")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def token(user, role="buyer"):
    return subprocess.check_output(
        [BINARY, "token", "--user", user, "--role", role],
        env={**os.environ, "AUTH_JWT_SECRET": SECRET}, text=True).strip()


def request(port, method, path, body=None, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"content-type": "application/json"} if data else {}
    all_headers.update(headers or {})
    conn.request(method, path, body=data, headers=all_headers)
    response = conn.getresponse()
    text = response.read()
    conn.close()
    try:
        return response.status, json.loads(text), len(text)
    except ValueError:
        return response.status, None, len(text)


class Deployment:
    def __init__(self, replicas=2, env=None, ulimit=None):
        self.dir = tempfile.mkdtemp(prefix="attack-figures-")
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.redis_port, "redis")
        self.replicas = []
        for i in range(replicas):
            port, metrics = free_port(), free_port()
            command = [BINARY]
            if ulimit:
                command = ["prlimit", f"--nofile={ulimit}:{ulimit}", "--"] + command
            process = subprocess.Popen(
                command, env={**os.environ, "AUTH_JWT_SECRET": SECRET,
                              "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}",
                              "BIND_ADDR": f"127.0.0.1:{port}",
                              "METRICS_ADDR": f"127.0.0.1:{metrics}",
                              "INSTANCE_ID": f"api-{i + 1}", "RUST_LOG": "error",
                              **(env or {})},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(port, f"api-{i + 1}")
            self.replicas.append((process, port, metrics))
        self.organizer = {"authorization": "Bearer " + token("olga", "organizer")}

    def redis_cli(self, *args):
        return subprocess.check_output(
            ["redis-cli", "-p", str(self.redis_port), *args], text=True)

    def info(self, section, field):
        """One integer field of INFO."""
        return int(self.redis_cli("info", section).split(f"{field}:")[1].split()[0])

    def event(self, sections, extra=None):
        body = {"name": "attack", "sections": sections, **(extra or {})}
        status, reply, _ = request(self.replicas[0][1], "POST", "/events", body,
                                   self.organizer)
        assert status == 201, reply
        return reply["id"]

    def stop(self):
        for process, _, _ in self.replicas:
            process.kill()
        self.redis.kill()


def metrics_attack():
    d = Deployment(replicas=1)
    process, port, metrics = d.replicas[0]
    before = rss_kb(process.pid)
    for _ in range(3000):
        method = "".join(random.choices(string.ascii_uppercase, k=4000))
        try:
            request(port, method, "/" + "".join(random.choices(string.ascii_lowercase, k=30)))
        except (OSError, http.client.HTTPException):
            pass
    time.sleep(1)
    conn = http.client.HTTPConnection("127.0.0.1", metrics, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    after = rss_kb(process.pid)
    series = [l for l in text.splitlines() if l.startswith("boxoffice_http_requests_total{")]
    print(f"1 metrics: 3000 requests with random 4000-letter methods and random paths: "
          f"RSS {before // 1024} -> {after // 1024} MB, /metrics {len(text) // 1024} KB, "
          f"{len(series)} request series")
    d.stop()


def socket_attack():
    d = Deployment(replicas=1, ulimit=1024)
    process, port, _ = d.replicas[0]
    held = []
    for _ in range(1100):
        held.append(socket.create_connection(("127.0.0.1", port)))
    opened = time.time()
    started = time.time()
    try:
        healthz = request(port, "GET", "/healthz", timeout=5)[0]
    except (OSError, http.client.HTTPException) as e:
        healthz = e.__class__.__name__
    healthz_ms = round((time.time() - started) * 1000, 1)
    open_during = fds(process.pid)
    refused, closed_at = 0, []
    for s in held:
        s.settimeout(60)
        received = b""
        try:
            while chunk := s.recv(4096):
                received += chunk
        except OSError:
            pass
        closed_at.append(time.time() - opened)
        refused += received.startswith(b"HTTP/1.1 503")
    status, _, _ = request(port, "GET", "/healthz")
    print(f"2 sockets: 1100 silent connections, file limit 1024 (cap 928): {refused} answered "
          f"503 OVERLOADED at once; a new /healthz during the attack: {healthz} in "
          f"{healthz_ms} ms; {open_during} descriptors open; the last socket closed by the "
          f"replica {max(closed_at):.1f} s after opening (HTTP_HEADER_TIMEOUT_MS 10 s); "
          f"/healthz then {status}; {fds(process.pid)} descriptors open")
    for s in held:
        s.close()
    d.stop()


def holds_attack():
    d = Deployment(replicas=1)
    port = d.replicas[0][1]
    event = d.event([{"name": "Floor", "price": 10, "capacity": 300}])
    auth = {"authorization": "Bearer " + token("mallory")}
    made = 0
    for _ in range(30):
        status, _, _ = request(port, "POST", f"/events/{event}/holds",
                               {"sectionId": "s1", "qty": 10}, auth)
        made += status == 201
    _, view, _ = request(port, "GET", f"/events/{event}")
    print(f"3 holds: one buyer, 30 holds of 10 in a 300-ticket section: {made} made, "
          f"remaining {view['sections'][0]['remaining']} of 300")
    d.stop()


def token_attack():
    d = Deployment(replicas=1)
    port = d.replicas[0][1]
    event = d.event([{"name": "Floor", "price": 10, "capacity": 300}],
                    {"waitingRoom": {"enabled": True, "maxActive": 10}})
    alice = {"authorization": "Bearer " + token("alice")}
    _, joined, _ = request(port, "POST", f"/events/{event}/queue", None, alice)
    admission = joined["admissionToken"]
    status, _, _ = request(port, "GET", "/bookings", None,
                           {"authorization": f"Bearer {admission}"})
    huge = "Bearer " + "a" * 400_000
    try:
        big_status = request(port, "GET", "/bookings", None, {"authorization": huge})[0]
    except (OSError, http.client.HTTPException) as e:
        big_status = f"closed ({e.__class__.__name__})"
    print(f"4 tokens: an admission token as Bearer: {status}; a 400 KB token: {big_status}")
    d.stop()


def stream_attack():
    d = Deployment(replicas=2)
    (p1, port1, _), (p2, port2, _) = d.replicas
    event = d.event([{"name": "Floor", "price": 10, "capacity": 300}])
    before = rss_kb(p1.pid)
    accepted, refused, held = 0, 0, []
    for _ in range(2000):
        s = socket.create_connection(("127.0.0.1", port1))
        s.sendall(f"GET /events/{event}/stream HTTP/1.1\r\nhost: x\r\n\r\n".encode())
        head = s.recv(512)
        if head.startswith(b"HTTP/1.1 200"):
            accepted += 1
            held.append(s)
        else:
            refused += 1
            s.close()
    during = rss_kb(p1.pid)
    for s in held:
        s.close()
    held = []
    events = [d.event([{"name": "Floor", "price": 10, "capacity": 10}]) for _ in range(500)]
    clients_before = d.info("clients", "connected_clients")
    # One stream per event on each replica; at most 32 per client address, so the streams
    # come from 16 loopback addresses.
    opened = 0
    for i, event_id in enumerate(events):
        for port in (port1, port2):
            s = socket.socket()
            s.bind((f"127.0.0.{2 + (i % 16)}", 0))
            s.connect(("127.0.0.1", port))
            s.sendall(f"GET /events/{event_id}/stream HTTP/1.1\r\nhost: x\r\n\r\n".encode())
            if s.recv(512).startswith(b"HTTP/1.1 200"):
                opened += 1
                held.append(s)
            else:
                s.close()
    time.sleep(2)
    clients_after = d.info("clients", "connected_clients")
    c0 = d.info("stats", "total_commands_processed")
    time.sleep(10)
    idle_rate = (d.info("stats", "total_commands_processed") - c0 - 1) / 10
    # A queue place polled 500 times at once.
    room = d.event([{"name": "Floor", "price": 10, "capacity": 10}],
                   {"waitingRoom": {"enabled": True, "maxActive": 1}})
    zed = {"authorization": "Bearer " + token("zed")}
    _, joined, _ = request(port1, "POST", f"/events/{room}/queue", None, zed)
    ticket = joined["ticket"]
    started = time.time()
    answers = [request(port1, "GET", f"/events/{room}/queue/{ticket}", None, zed)[0]
               for _ in range(500)]
    took = time.time() - started
    print(f"5 streams: 2000 streams on one event from one address: {accepted} accepted, "
          f"{refused} refused 429, RSS {before // 1024} -> {during // 1024} MB; "
          f"{opened} streams on 500 events over 2 replicas: Redis clients {clients_before} -> "
          f"{clients_after}, {idle_rate:.1f} commands/s while idle; 500 polls of one place "
          f"in {took:.2f} s: {answers.count(200)} answered, {answers.count(429)} 429")
    for s in held:
        s.close()
    d.stop()


def listing_attack():
    d = Deployment(replicas=1)
    port = d.replicas[0][1]
    rows = [{"name": f"{chr(65 + r // 26)}{chr(65 + r % 26)}", "count": 100} for r in range(100)]
    for _ in range(40):
        d.event([{"name": "Hall", "price": 10, "rows": rows}])
    s500, _, _ = request(port, "GET", "/events?limit=500")
    s100, _, size = request(port, "GET", "/events?limit=100")
    print(f"6 listings: 40 events of 10,000 seats: ?limit=500 -> {s500}; ?limit=100 -> "
          f"{s100}, {size} bytes")
    d.stop()


def main():
    if not os.path.exists(BINARY):
        sys.exit("build first: cargo build --release")
    for attack in [metrics_attack, socket_attack, holds_attack, token_attack, stream_attack,
                   listing_attack]:
        attack()


if __name__ == "__main__":
    main()
