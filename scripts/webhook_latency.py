#!/usr/bin/env python3
"""Webhook delivery (docs/webhooks.md): how long from a booking's 201 until the receiver has
its `booking.created`, and what fan-out and delivery cost Redis per message.

Against one replica (AUTH_MODE=open, WEBHOOK_ALLOW_PRIVATE=true, the default WEBHOOK_POLL_MS)
on a Redis of its own, with a receiver in this process (HTTP/1.1, answers 200 at once):
1. latency, one booking at a time (200 bookings, 10 ms apart), then 16 bookers at once (2000
   bookings): from the moment the booking's 201 is read to the moment the receiver has read
   the message, on one clock (this process's); a message may arrive before the client has
   read the 201, which counts as a negative latency;
2. Redis time (INFO commandstats, every command, reset before each run) per booking for 2000
   bookings by 16 bookers with one endpoint registered, read once every message has arrived
   and a second after, against the same without any endpoint; twice each, alternately. The
   difference is what one message costs Redis: reading the outbox, queueing the message for
   the endpoint, leasing and settling it (the sweeps every WEBHOOK_POLL_MS fall in both
   windows).

    scripts/webhook_latency.py http://127.0.0.1:PORT REDIS_PORT
Prints Markdown.
"""
import http.server
import json
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import bench_api

base, redis_port = sys.argv[1], sys.argv[2]


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    arrived = {}  # booking id -> perf_counter at arrival
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        now = time.perf_counter()
        message = json.loads(body)
        if message.get("type") == "booking.created":
            with Receiver.lock:
                Receiver.arrived.setdefault(message["data"]["id"], now)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    # The default backlog of 5 drops connections a replica opens at once (SYN retried after 1 s).
    request_queue_size = 256


server = Server(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/hook"

status, event = bench_api.call(base, "POST", "/events",
                               {"name": "webhooks", "sections": [{"name": "GA", "price": 10, "capacity": 1_000_000}]})
assert status == 201, event
event = event["id"]
counter = iter(range(10**9))


def book():
    i = next(counter)
    status, reply = bench_api.call(base, "POST", "/book",
                                   {"eventId": event, "sectionId": "s1", "qty": 1, "userId": f"buyer{i}"})
    read = time.perf_counter()
    assert status == 201, reply
    return reply["id"], read


def wait_for(ids):
    deadline = time.time() + 120
    while time.time() < deadline:
        with Receiver.lock:
            if all(i in Receiver.arrived for i in ids):
                return
        time.sleep(0.01)
    raise AssertionError("messages missing after 120 s")


def register():
    status, endpoint = bench_api.call(base, "POST", "/webhooks", {"url": url, "types": ["booking.created"]})
    assert status == 201, endpoint
    return endpoint["id"]


def latencies(booked):
    wait_for([i for i, _ in booked])
    with Receiver.lock:
        return sorted((Receiver.arrived[i] - read) * 1000 for i, read in booked)


def row(what, values, seconds=None):
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    rate = f"{len(values) / seconds:,.0f}" if seconds else "—"
    return (f"| {what} | {len(values)} | {rate} | {statistics.median(values):.1f} | {p99:.1f} | "
            f"{values[-1]:.1f} |")


def redis_usec():
    total = 0
    for line in bench_api.redis(redis_port, "info", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            fields = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
            total += int(fields["usec"])
    return total


def concurrent(n):
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        booked = list(pool.map(lambda _: book(), range(n)))
    return booked, time.perf_counter() - started


endpoint = register()
time.sleep(1)  # the replica's next sweep knows the endpoint
book()  # connections warm
one_by_one = []
for _ in range(200):
    one_by_one.append(book())
    time.sleep(0.01)
lines = [
    "| webhook latency, 201 read -> receiver | bookings | bookings/s | p50 ms | p99 ms | max ms |",
    "|---|---:|---:|---:|---:|---:|",
    row("one booking at a time", latencies(one_by_one)),
]
booked, seconds = concurrent(2000)
lines.append(row("16 bookers at once", latencies(booked), seconds))


def cost(with_endpoint):
    bench_api.redis(redis_port, "config", "resetstat")
    booked, _ = concurrent(2000)
    if with_endpoint:
        wait_for([i for i, _ in booked])
    time.sleep(1)
    return redis_usec() / len(booked)


per_booking = {True: [], False: []}
for run in range(2):
    per_booking[True].append(cost(True))
    with urllib.request.urlopen(urllib.request.Request(f"{base}/webhooks/{endpoint}", method="DELETE")) as reply:
        assert reply.status == 204, reply.status
    time.sleep(1)
    per_booking[False].append(cost(False))
    endpoint = register()
    time.sleep(1)
with_one = statistics.median(per_booking[True])
without = statistics.median(per_booking[False])
lines += [
    "",
    "| Redis time per booking, 2000 bookings by 16 bookers | run 1 µs | run 2 µs | median µs |",
    "|---|---:|---:|---:|",
    f"| no endpoint | {per_booking[False][0]:.1f} | {per_booking[False][1]:.1f} | {without:.1f} |",
    f"| one endpoint for booking.created | {per_booking[True][0]:.1f} | {per_booking[True][1]:.1f} | {with_one:.1f} |",
    f"| what one message adds (fan-out and delivery) | | | {with_one - without:.1f} |",
]
print("\n".join(lines))
