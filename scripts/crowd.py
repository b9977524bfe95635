#!/usr/bin/env python3
"""What the crowd costs Redis: clients that each ask once a second, spread over the replicas,
first 200 of them and then 1000 (issue 25's measure).

Two kinds of crowd:
- queue: everyone joined one waiting room (`maxActive` 1: they all wait) and each asks where
  they stand (`GET /events/{id}/queue/{ticket}?user=`);
- seats: viewers of a 5000-seat map, each re-reading it with the `ETag` they last got
  (`If-None-Match`: a `304` while nothing changed).

For each size, over a window of WINDOW_S seconds: the polls answered, every command Redis ran
(`INFO commandstats`, reset at the start; commands scripts run inside are counted as well), and
the replicas' CPU (`/proc/<pid>/stat`). The slope between the two sizes is what one more poll
costs: Redis commands per poll, replica CPU µs per poll.

    scripts/crowd.py queue|seats REDIS_PORT BASE[,PID] BASE[,PID] ...

And how stale a replica's read view is (`staleness`): a writer makes CHANGE_RATE (default
1000) changes a second (seat locks and unlocks) through WRITER for WINDOW_S seconds; every
20 ms a probe books one general admission ticket through WRITER and, from the moment the
booking's answer came back, reads `GET /events/{id}` on each READER (every millisecond or
so) until it shows the `remaining` the booking answered: that lag, per reader, is at most the
time from the script's commit to the reader's view (the booking committed before its
answer). The readers write nothing, so they answer from their views (`X-Read-Source`).

    scripts/crowd.py staleness REDIS_PORT WRITER_BASE READER_BASE[,PID] ...
Prints Markdown. Standard library only (asyncio, one keep-alive connection per client).
"""
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import bench_api

WINDOW_S = float(os.environ.get("WINDOW_S", "10"))
SIZES = [int(n) for n in os.environ.get("CROWD_SIZES", "200 1000").split()]
kind, redis_port = sys.argv[1], sys.argv[2]
writer_base = sys.argv[3] if kind == "staleness" else None
targets = [t.split(",") for t in sys.argv[(4 if kind == "staleness" else 3):]]
bases = [t[0] for t in targets]
pids = [int(t[1]) for t in targets if len(t) > 1]


SECRET = os.environ.get("AUTH_JWT_SECRET")


def token(user, role="buyer"):
    """With AUTH_JWT_SECRET set (replicas in jwt mode), a token for `user`; otherwise None (open
    mode: the body or ?user= names the user)."""
    return bench_api.token(SECRET, user, role) if SECRET else None


def call(base, method, path, body=None, auth=None):
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = f"Bearer {auth}"
    request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                     method=method, headers=headers)
    with urllib.request.urlopen(request) as reply:
        return json.load(reply)


def redis(*args):
    return subprocess.run(["redis-cli", "-p", redis_port, *args], capture_output=True, text=True,
                          check=True).stdout


def redis_commands():
    total = 0
    for line in redis("info", "commandstats").splitlines():
        if line.startswith("cmdstat_") and not line.startswith(("cmdstat_info:", "cmdstat_config:")):
            fields = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
            total += int(fields["calls"])
    return total


def cpu_seconds():
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def setup(n):
    """Per client: (base, path, an ETag to start from or None, a token or None). Clients take
    the replicas in turn."""
    organizer = token("crowd", "organizer")
    if kind == "queue":
        event = call(bases[0], "POST", "/events", {
            "name": "crowd", "waitingRoom": {"enabled": True, "maxActive": 1},
            "sections": [{"name": "GA", "price": 10, "capacity": 1000}]}, organizer)["id"]
        clients = []
        for i in range(n):
            base, auth = bases[i % len(bases)], token(f"c{i}")
            joined = call(base, "POST", f"/events/{event}/queue", {"userId": f"c{i}"}, auth)
            path = f"/events/{event}/queue/{urllib.parse.quote(joined['ticket'])}?user=c{i}"
            clients.append((base, path, None, auth))
        return clients
    seats = [f"S{i:04}" for i in range(1, 5001)]
    event = call(bases[0], "POST", "/events", {
        "name": "crowd", "sections": [{"name": "Hall", "price": 10, "seats": seats}]}, organizer)["id"]
    return [(bases[i % len(bases)], f"/events/{event}/seats", "", None) for i in range(n)]


async def client(base, path, etag, auth, stop, counts, start_at):
    url = urllib.parse.urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    await asyncio.sleep(start_at)
    tag = etag
    while time.monotonic() < stop:
        head = f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        if tag:
            head += f"If-None-Match: {tag}\r\n"
        if auth:
            head += f"Authorization: Bearer {auth}\r\n"
        writer.write((head + "\r\n").encode())
        await writer.drain()
        status_line = await reader.readline()
        length, headers = 0, {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        status = int(status_line.split()[1])
        counts[status] = counts.get(status, 0) + 1
        if etag is not None and "etag" in headers:
            tag = headers["etag"]
        await asyncio.sleep(1.0)
    writer.close()


async def window(clients):
    counts = {}
    # Warm-up: every client's first request (a full map, a first standing) before measuring.
    stop = time.monotonic() + 2.0 + WINDOW_S
    tasks = [asyncio.create_task(client(b, p, e, a, stop, counts, i / len(clients)))
             for i, (b, p, e, a) in enumerate(clients)]
    await asyncio.sleep(2.0)
    redis("config", "resetstat")
    before_cpu, before = cpu_seconds() if pids else 0.0, dict(counts)
    await asyncio.sleep(WINDOW_S)
    commands = redis_commands()
    cpu = (cpu_seconds() - before_cpu) if pids else None
    polls = sum(counts.values()) - sum(before.values())
    statuses = {s: counts.get(s, 0) - before.get(s, 0) for s in counts}
    await asyncio.gather(*tasks, return_exceptions=True)
    return polls, commands, cpu, statuses


class Conn:
    """One keep-alive HTTP/1.1 connection: request() -> (status, headers, body bytes)."""

    def __init__(self, base):
        self.url = urllib.parse.urlsplit(base)
        self.reader = self.writer = None

    async def request(self, method, path, body=None, headers=()):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.url.hostname, self.url.port)
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.url.netloc}\r\nContent-Length: {len(data)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        for name, value in headers:
            head += f"{name}: {value}\r\n"
        self.writer.write((head + "\r\n").encode() + data)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        fields = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        payload = await self.reader.readexactly(length) if length else b""
        return status, fields, payload


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def staleness():
    rate = int(os.environ.get("CHANGE_RATE", "1000"))
    organizer = token("crowd", "organizer")
    seats = [f"S{i:04}" for i in range(1, 5001)]
    event = call(writer_base, "POST", "/events", {"name": "staleness", "sections": [
        {"name": "Hall", "price": 10, "seats": seats},
        {"name": "Probe", "price": 10, "capacity": 1000000}]}, organizer)["id"]
    readers = [Conn(base) for base in bases]
    for reader in readers:  # the first read starts each reader's view
        await reader.request("GET", f"/events/{event}")
    await asyncio.sleep(1.0)
    stop = time.monotonic() + WINDOW_S
    changes = [0]

    async def writer(k, workers):
        conn, n = Conn(writer_base), 0
        # Each worker: lock then unlock its own seats, paced to rate / workers changes a second.
        mine = seats[k::workers]
        interval, next_at = workers / rate, time.monotonic()
        while time.monotonic() < stop:
            seat = mine[(n // 2) % len(mine)]
            action = "lock" if n % 2 == 0 else "unlock"
            user = f"w{k}-{n // 2}"  # a user per seat lock (each user's writes stay few)
            status, _, _ = await conn.request("POST", f"/events/{event}/seats/{seat}/{action}",
                                              {"userId": user}, auth_headers(user))
            if status == 200:
                changes[0] += 1
            n += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    lags = {base: [] for base in bases}
    sources = {}

    async def probe():
        conn, n = Conn(writer_base), 0
        while time.monotonic() < stop:
            user = f"p{n}"
            status, _, body = await conn.request("POST", "/book", {
                "eventId": event, "sectionId": "s2", "qty": 1, "userId": user}, auth_headers(user))
            answered = time.monotonic()
            assert status == 201, (status, body)
            remaining = json.loads(body)["remaining"]

            async def watch(base, reader):
                while True:
                    _, fields, payload = await reader.request("GET", f"/events/{event}")
                    sources[fields.get("x-read-source")] = sources.get(fields.get("x-read-source"), 0) + 1
                    if json.loads(payload)["sections"][1]["remaining"] <= remaining:
                        lags[base].append((time.monotonic() - answered) * 1000)
                        return
                    await asyncio.sleep(0.0005)

            await asyncio.gather(*(watch(b, r) for b, r in zip(bases, readers)))
            n += 1
            await asyncio.sleep(0.02)

    workers = 16
    started = time.monotonic()
    await asyncio.gather(probe(), *(writer(k, workers) for k in range(workers)))
    elapsed = time.monotonic() - started
    print(f"| reader (a replica that does not write) | changes/s made | probes | lag p50 ms | "
          f"lag p99 ms | lag max ms | answers from the view |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    share = sources.get("view", 0) / max(sum(sources.values()), 1)
    for i, base in enumerate(bases):
        values = lags[base]
        print(f"| replica {i + 1} | {changes[0] / elapsed:,.0f} | {len(values)} | "
              f"{percentile(values, 0.5):.1f} | {percentile(values, 0.99):.1f} | "
              f"{max(values):.1f} | {share:.1%} |")


def auth_headers(user):
    auth = token(user)
    return [("Authorization", f"Bearer {auth}")] if auth else []


if kind == "staleness":
    asyncio.run(staleness())
    sys.exit(0)

rows = []
for n in SIZES:
    clients = setup(n)
    polls, commands, cpu, statuses = asyncio.run(window(clients))
    rows.append((n, polls, commands, cpu, statuses))

what = "waiting-room polls" if kind == "queue" else "conditional re-reads of a 5000-seat map"
print(f"| {what}, {len(bases)} replicas | polls in {WINDOW_S:.0f} s | polls/s | Redis commands | "
      f"commands per poll | replica CPU µs per poll | statuses |")
print("|---|---:|---:|---:|---:|---:|---|")
for n, polls, commands, cpu, statuses in rows:
    per_cpu = f"{cpu * 1e6 / max(polls, 1):.0f}" if cpu is not None else "—"
    mix = ", ".join(f"{s}: {c}" for s, c in sorted(statuses.items()))
    print(f"| {n} clients, one poll a second each | {polls} | {polls / WINDOW_S:,.0f} | {commands} | "
          f"{commands / max(polls, 1):.2f} | {per_cpu} | {mix} |")
if len(rows) >= 2:
    (n0, p0, c0, u0, _), (n1, p1, c1, u1, _) = rows[0], rows[-1]
    slope = (c1 - c0) / max(p1 - p0, 1)
    cpu_slope = f"{(u1 - u0) * 1e6 / max(p1 - p0, 1):.0f} µs" if u0 is not None else "—"
    print(f"\nSlope from {n0} to {n1} clients: **{slope:.3f} Redis commands per poll**, replica CPU "
          f"{cpu_slope} per poll.")
