#!/usr/bin/env python3
"""Redis time of best-available choices on a busy section (issue: "bounded cost").

Against one replica (AUTH_MODE=open, no rate limit, no lock limit, long holds) on its own
Redis: an event with one reserved section of 5000 seats (50 rows of 100); 2000 seats sold
and 2000 held by others; then, each after CONFIG RESETSTAT, 100 holds of 4 seats together
and 100 bookings of 2 seats by quantity (best available). Prints a Markdown table: Redis CPU
per request (INFO commandstats: EVALSHA time / requests), and per script call.

    scripts/busy_section.py http://127.0.0.1:PORT REDIS_PORT
"""
import sys

import bench_api

base, redis_port = sys.argv[1], sys.argv[2]


def call(method, path, body):
    return bench_api.call(base, method, path, body)


def redis(*args):
    return bench_api.redis(redis_port, *args)


def evalsha():
    fields = bench_api.evalsha_stats(redis_port)
    return int(fields.get("calls", 0)), int(fields.get("usec", 0))


# Letters only: a row "R1" seat 11 and a row "R11" seat 1 would both be seat "R111".
rows = [{"name": chr(65 + r // 26) + chr(65 + r % 26), "count": 100} for r in range(50)]
status, event = call("POST", "/events", {"name": "busy", "sections": [{"name": "Hall", "price": 10, "rows": rows}]})
assert status == 201, event
event = event["id"]
for i in range(200):
    status, reply = call("POST", "/book", {"eventId": event, "sectionId": "s1", "qty": 10, "userId": f"sold{i}"})
    assert status == 201, reply
for i in range(200):
    status, reply = call("POST", f"/events/{event}/holds", {"userId": f"held{i}", "sectionId": "s1", "qty": 10})
    assert status == 201, reply


def measure(what, requests):
    redis("config", "resetstat")
    for i in range(100):
        status, reply = requests(i)
        assert status in (201, 409), reply
    calls, usec = evalsha()
    return f"| {what} | 100 | {calls} | {usec / 100:.0f} | {usec / max(calls, 1):.0f} |"


print("| on a 5000-seat section with 2000 seats sold and 2000 held | requests | script calls | Redis µs per request | µs per script call |")
print("|---|---|---|---|---|")
print(measure("hold 4 seats together (best available)",
              lambda i: call("POST", f"/events/{event}/holds",
                             {"userId": f"fan{i}", "sectionId": "s1", "qty": 4, "together": True})))
print(measure("book 2 seats by quantity (best available)",
              lambda i: call("POST", "/book", {"eventId": event, "sectionId": "s1", "qty": 2, "userId": f"buyer{i}"})))
