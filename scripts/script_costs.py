#!/usr/bin/env python3
"""Redis time of every script, by outcome, next to a trivial script (issue: per-shard capacity).

Against one replica (AUTH_MODE=open, no rate limit, no lock limit) on a Redis of its own: for
each row, SLOWLOG RESET, then 200 requests that end the same way (a booking, a sold-out
refusal, a lock, a lock refused because someone holds the seat, ...), then SLOWLOG GET: the
execution time Redis recorded for each EVALSHA in the event's slot (the slow log keeps every
command with slowlog-log-slower-than 0; it measures the same as INFO commandstats, per call).
The reference is a trivial script (GET, compare, DECRBY) run 200 times the same way. Requests
go one at a time, so every figure is that of a call arriving at an idle Redis (slower than under
load, where caches stay warm); compare the rows with each other and with the reference.

Then each refusal (it writes nothing, so the same call refuses again) and the booking are
replayed warm: the call as Redis logged it, REPLAYS times by redis-benchmark over 8
connections after CONFIG RESETSTAT, and INFO commandstats's µs per EVALSHA; the booking with a
random booking id and user per call (`__rand_int__`), the reference the same way. This is the
cost under load, when Redis's caches stay warm: the figure per-shard capacity depends on.

Prints a Markdown table: median and mean µs per call idle, the median as a multiple of the
reference's, and the warm µs per call and multiple where replayed. Then a second table of what
bounds them: scripts that do (almost) nothing, replayed warm the same way, one of them called
with the booking's keys and arguments.

    scripts/script_costs.py http://127.0.0.1:PORT REDIS_PORT
"""
import hashlib
import hmac
import json
import os
import statistics
import time
import subprocess
import sys

import bench_api

base, redis_port = sys.argv[1], sys.argv[2]
N = 200
REPLAYS = 50000


def call(method, path, body=None):
    return bench_api.call(base, method, path, body)


def redis(*args):
    return bench_api.redis(redis_port, *args).strip()


def slow_entries(prefix):
    """(µs, arguments) of each EVALSHA since the last reset whose first key starts with
    `prefix`, newest first."""
    out = subprocess.run(["redis-cli", "-p", redis_port, "--json", "slowlog", "get", "-1"],
                         capture_output=True, text=True, check=True).stdout
    entries = []
    for entry in json.loads(out):
        args = entry[3]
        if args and args[0].lower() == "evalsha" and len(args) > 3 and args[3].startswith(prefix):
            entries.append((int(entry[2]), args))
    return entries


def slow_calls(prefix):
    return [duration for duration, _ in slow_entries(prefix)]


def warm(args, randomize=()):
    """Warm µs per call: `args` (an EVALSHA as the slow log shows it) replayed REPLAYS times.
    Each string in `randomize` is replaced by `__rand_int__` wherever it occurs."""
    if any("more arguments" in a or "more bytes" in a for a in args):
        return None  # the slow log truncated this call: it cannot be replayed
    for value in randomize:
        args = [a.replace(value, "__rand_int__") for a in args]
    redis("config", "set", "slowlog-log-slower-than", "-1")
    redis("config", "resetstat")
    subprocess.run(["redis-benchmark", "-p", redis_port, "-c", "8", "-n", str(REPLAYS),
                    "-r", "100000000000", "--csv", *args], capture_output=True, check=True)
    fields = bench_api.evalsha_stats(redis_port)
    redis("config", "set", "slowlog-log-slower-than", "0")
    if not fields:
        return None
    assert int(fields["failed_calls"]) == 0, fields
    return float(fields["usec_per_call"])


def event(sections, **extra):
    status, reply = call("POST", "/events", {"name": "costs", "sections": sections, **extra})
    assert status == 201, reply
    return reply["id"]


rows = []
logged = {}  # (script, outcome) -> the arguments of one logged call


def measure(script, outcome, prefix, requests, expect, randomize=None):
    """One row: the requests one at a time (idle figures); a refusal is then replayed warm,
    and so is a call whose `randomize(arguments)` names the values to vary per call."""
    redis("slowlog", "reset")
    for method, path, body in requests:
        status, reply = call(method, path, body)
        assert status == expect, (script, outcome, status, reply)
    entries = slow_entries(prefix)
    logged[(script, outcome)] = entries[0][1]
    replayed = None
    if outcome.startswith("refused") or randomize:
        replayed = warm(entries[0][1], randomize(entries[0][1]) if randomize else ())
    rows.append((script, outcome, [d for d, _ in entries], replayed))


redis("config", "set", "slowlog-log-slower-than", "0")
redis("config", "set", "slowlog-max-len", "100000")

# The reference: GET, compare, DECRBY.
trivial = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') if n >= 1 then return redis.call('DECRBY', KEYS[1], 1) end return -1"
sha = redis("script", "load", trivial)
redis("set", "ref:{x}:n", "1000000")
redis("slowlog", "reset")
for _ in range(N):
    redis("evalsha", sha, "1", "ref:{x}:n")
rows.append(("trivial (reference)", "GET, compare, DECRBY", slow_calls("ref:"),
             warm(["evalsha", sha, "1", "ref:{x}:n"])))

seats = [f"S{i:03}" for i in range(1, N + 1)]
ga = event([{"name": "GA", "price": 10, "capacity": 1000000}])
# Replayed with a random booking id (its key and argument) and user (their keys and argument).
measure("book", "booked (general admission)", f"bo:{{{ga}}}", [
    ("POST", "/book", {"eventId": ga, "sectionId": "s1", "qty": 1, "userId": f"b{i}"}) for i in range(N)], 201,
    randomize=lambda args: (args[3 + int(args[2])], args[3 + int(args[2]) + 4]))

gone = event([{"name": "GA", "price": 10, "capacity": 1}])
call("POST", "/book", {"eventId": gone, "sectionId": "s1", "qty": 1, "userId": "first"})
measure("book", "refused: INSUFFICIENT_INVENTORY (sold out)", f"bo:{{{gone}}}", [
    ("POST", "/book", {"eventId": gone, "sectionId": "s1", "qty": 1, "userId": f"late{i}"}) for i in range(N)], 409)

limited = event([{"name": "GA", "price": 10, "capacity": 1000000}], maxPerUser=1)
for i in range(N):
    call("POST", "/book", {"eventId": limited, "sectionId": "s1", "qty": 1, "userId": f"one{i}"})
measure("book", "refused: USER_LIMIT_REACHED", f"bo:{{{limited}}}", [
    ("POST", "/book", {"eventId": limited, "sectionId": "s1", "qty": 1, "userId": f"one{i}"}) for i in range(N)], 409)

seated = event([{"name": "Stalls", "price": 40, "seats": seats}])
measure("lock_seat", "locked", f"bo:{{{seated}}}", [
    ("POST", f"/events/{seated}/seats/{s}/lock", {"userId": f"l{i}"}) for i, s in enumerate(seats)], 200)
measure("lock_seat", "refused: SEAT_LOCKED", f"bo:{{{seated}}}", [
    ("POST", f"/events/{seated}/seats/{s}/lock", {"userId": f"other{i}"}) for i, s in enumerate(seats)], 423)
measure("confirm_seat", "booked", f"bo:{{{seated}}}", [
    ("POST", f"/events/{seated}/seats/{s}/confirm", {"userId": f"l{i}"}) for i, s in enumerate(seats)], 201)
measure("lock_seat", "refused: SEAT_BOOKED", f"bo:{{{seated}}}", [
    ("POST", f"/events/{seated}/seats/{s}/lock", {"userId": f"other{i}"}) for i, s in enumerate(seats)], 409)

fresh = event([{"name": "Stalls", "price": 40, "seats": seats}])
for i, s in enumerate(seats):
    call("POST", f"/events/{fresh}/seats/{s}/lock", {"userId": f"u{i}"})
measure("unlock_seat", "released", f"bo:{{{fresh}}}", [
    ("POST", f"/events/{fresh}/seats/{s}/unlock", {"userId": f"u{i}"}) for i, s in enumerate(seats)], 200)
pairs = [seats[i:i + 2] for i in range(0, N, 2)]
holds = []
redis("slowlog", "reset")
for i, pair in enumerate(pairs):
    status, hold = call("POST", f"/events/{fresh}/holds", {"userId": f"h{i}", "seats": pair})
    assert status == 201, hold
    holds.append(hold["id"])
rows.append(("hold_create", "held (2 named seats)", slow_calls(f"bo:{{{fresh}}}"), None))
measure("hold_confirm", "booked (2 seats)", f"bo:{{{fresh}}}", [
    ("POST", f"/events/{fresh}/holds/{h}/confirm", {"userId": f"h{i}"}) for i, h in enumerate(holds)], 201)

room = event([{"name": "GA", "price": 10, "capacity": 1000000}],
             waitingRoom={"enabled": True, "maxActive": 50})


def calls_of(prefix, keys):
    """µs of each logged EVALSHA under `prefix` with `keys` keys (which script it was)."""
    return [d for d, args in slow_entries(prefix) if args[2] == str(keys)]


# A join is one script on the joiner's queue shard (`bo:{E~k~x}`, 2 keys); a poll runs no
# script until its turn has come, then takes the admission (queue_admit, 7 keys); a replica's
# refresh reads each shard (1 key) and advances the line (queue_advance, 8 keys).
tickets = []
redis("slowlog", "reset")
for i in range(N):
    status, reply = call("POST", f"/events/{room}/queue", {"userId": f"q{i}"})
    assert status == 200, reply
    tickets.append(reply["ticket"])
rows.append(("queue_join", "joined", calls_of(f"bo:{{{room}~", 2), None))
time.sleep(0.6)  # a refresh puts every place in a round and releases the first 50 turns
redis("slowlog", "reset")
for i in range(50):
    status, reply = call("GET", f"/events/{room}/queue/{tickets[i]}?user=q{i}")
    assert status == 200 and reply["status"] == "admitted", reply
rows.append(("queue_admit", "admitted", calls_of(f"bo:{{{room}}}", 7), None))
redis("slowlog", "reset")
for _ in range(8):
    time.sleep(0.3)
    for i in range(50, N):
        status, reply = call("GET", f"/events/{room}/queue/{tickets[i]}?user=q{i}")
        assert status == 200 and reply["status"] == "waiting", reply
rows.append(("queue_advance", "a refresh (150 waiting)", calls_of(f"bo:{{{room}}}", 8), None))
rows.append(("queue_shard_read", "a refresh's shard read", calls_of(f"bo:{{{room}~", 1), None))

# Orders (docs/orders.md): a hold of 2 becomes an order; a signed Stripe webhook pays it; the
# same payment again is a replay. The replica runs with STRIPE_WEBHOOK_SECRET (scripts/bench).
secret = os.environ.get("STRIPE_WEBHOOK_SECRET")
# (A build from before orders makes an event without payment: then there are no order rows.)
status, paid = call("POST", "/events", {"name": "costs", "payment": "required",
                                        "sections": [{"name": "GA", "price": 10, "capacity": 1000000}]})
if secret and status == 201 and paid.get("payment") == "required":
    paid = paid["id"]
    orders = []
    for i in range(N):
        status, hold = call("POST", f"/events/{paid}/holds", {"userId": f"o{i}", "sectionId": "s1", "qty": 2})
        assert status == 201, hold
        orders.append((i, hold["id"]))
    redis("slowlog", "reset")
    made = []
    for i, hold in orders:
        status, order = call("POST", f"/events/{paid}/holds/{hold}/order", {"userId": f"o{i}"})
        assert status == 201, order
        made.append(order["id"])
    rows.append(("order_create", "ordered (2 tickets)", slow_calls(f"bo:{{{paid}}}"), None))

    def webhook(order, n):
        body = json.dumps({"id": f"evt_{n}", "type": "payment_intent.succeeded", "data": {"object": {
            "id": f"pi_{n}", "amount_received": 2000, "currency": "eur", "metadata": {"orderId": order}}}})
        t = str(int(time.time()))
        signature = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
        return bench_api.call_raw(base, "POST", "/payments/stripe/webhook", body.encode(),
                                  {"Stripe-Signature": f"t={t},v1={signature}"})

    for outcome in ("paid (booking made)", "replayed (the same payment again)"):
        redis("slowlog", "reset")
        for n, order in enumerate(made):
            status, reply = webhook(order, n)
            assert status == 200, reply
        # The order's slot is the event's; its keys carry a slot tag, not the event id.
        entries = [(d, a) for d, a in slow_entries("bo:{") if any("order:" in x for x in a[3:5])]
        rows.append(("order_pay", outcome, [d for d, _ in entries], None))

reference, warm_reference = statistics.median(rows[0][2]), rows[0][3]
print("| script | outcome | calls | idle median µs | idle mean µs | idle / reference | "
      "warm µs | warm / reference |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for script, outcome, durations, replayed in rows:
    median = statistics.median(durations)
    warm_cells = "| — | — |" if replayed is None else f"| {replayed:.2f} | {replayed / warm_reference:.1f}x |"
    print(f"| {script} | {outcome} | {len(durations)} | {median:.1f} | {statistics.mean(durations):.1f} | "
          f"{median / reference:.1f}x {warm_cells}")

# What bounds them: warm µs of scripts that do (almost) nothing, called like the booking.
book_call = logged[("book", "booked (general admission)")]
book_random = (book_call[3 + int(book_call[2])], book_call[3 + int(book_call[2]) + 4])
floor = [
    ("`return 1`, 1 key", "return 1", None),
    ("`return 1`, with the booking's 18 keys and 7 arguments (random id and user)", "return 1", book_call),
    ("one `TIME`, 1 key", "redis.call('TIME') return 1", None),
    ("one `HMGET` of 8 fields of a section, 1 key",
     "redis.call('HMGET', KEYS[1], 's1:remaining', 's1:price', 's1:first', 's1:last', 's1:rows', "
     "'wr:enabled', '*:max', 's1:max') return 1", None),
]
print()
print("| what | warm µs | / reference |")
print("|---|---:|---:|")
for what, body, like in floor:
    sha = redis("script", "load", body)
    if like is None:
        replayed = warm(["evalsha", sha, "1", f"bo:{{{ga}}}:sections"])
    else:
        replayed = warm(["evalsha", sha, *like[2:]], book_random)
    print(f"| {what} | {replayed:.2f} | {replayed / warm_reference:.1f}x |")
