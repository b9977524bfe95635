-- Helpers shared by every script in this folder. The Rust side (src/store/scripts.rs) builds
-- each script as: a prelude naming its keys and arguments, this file, then the script. So
-- every script is still one self-contained EVALSHA body, and the order of its keys and
-- arguments is written once, in Rust.
--
-- Conventions for all scripts:
--   * keys are K.<name> and arguments A.<name>, as the script's entry in scripts.rs declares
--     them; an optional one is nil when the caller left it out;
--   * every key arrives through KEYS (never built here), and all keys of one call share one
--     cluster slot, so a script runs unchanged on a single Redis or on Redis Cluster;
--   * one exception: a hold's seats are known only at run time, so a hold script gets the
--     prefix of the event's seat lock keys (its key `seat_lock_prefix`, `bo:{E}:lock:`) and appends
--     seat ids to it; ids match [A-Za-z0-9_-], so the key stays in the event's slot;
--   * a reply is a pair {"ok", json} or {"refused", json}, where a refusal's json is
--     {"error": CODE, ...details}. Refusals write nothing, except that a script may first
--     reclaim expired holds (reclaim_expired_holds), which any later script would do too.

local function reply_json(json)
  return { 'ok', json }
end

local function reply(t)
  return reply_json(cjson.encode(t))
end

local function refuse(code, extra)
  local t = extra or {}
  t.error = code
  return { 'refused', cjson.encode(t) }
end

-- Redis's own clock in milliseconds: the one clock every replica shares.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- When a lookup inside an event misses, tell "no such event" from "no such section/seat".
local function not_found(event_key, code)
  if redis.call('EXISTS', event_key) == 0 then
    return refuse('EVENT_NOT_FOUND')
  end
  return refuse(code)
end

-- Idempotency. A request carrying an Idempotency-Key passes the record key and a fingerprint
-- of its body; without a key both are nil. A stored record replays the first successful reply;
-- a different fingerprint under the same key is refused.
local function idempotent_replay(record_key, fingerprint)
  if not record_key then
    return nil
  end
  local stored = redis.call('HMGET', record_key, 'fingerprint', 'reply')
  if not stored[1] then
    return nil
  end
  if stored[1] ~= fingerprint then
    return refuse('IDEMPOTENCY_KEY_REUSED')
  end
  local first = cjson.decode(stored[2])
  first.replayed = true
  return reply(first)
end

-- Answers with `json`, remembering it first when the request carries an idempotency key.
local function remember_reply(record_key, fingerprint, ttl_ms, json)
  if record_key then
    redis.call('HSET', record_key, 'fingerprint', fingerprint, 'reply', json)
    redis.call('PEXPIRE', record_key, ttl_ms)
  end
  return reply_json(json)
end

-- A booking is one JSON document; the event's booking index and the user's index within the
-- event list its id (score 0, so members sort by id: UUIDv7 ids sort by time).
local function index_booking(bookings_key, user_bookings_key, id)
  redis.call('ZADD', bookings_key, 0, id)
  redis.call('ZADD', user_bookings_key, 0, id)
end

-- The reply of a booking script: the booking document as stored, and the section's remaining.
local function booking_reply(document, remaining)
  return '{"booking":' .. document .. ',"remaining":' .. remaining .. '}'
end

-- Reserved seats have positions 0..n-1 in the event's seat order; bit `position` of the event's
-- booked-seats bitmap is 1 while that seat is sold.

-- The seat's section and position; or, as a third value, a refusal when the seat (or its
-- event) does not exist or the seat is sold.
local function unsold_seat(event_key, seat_sections_key, seat_positions_key, booked_key, seat)
  local section_id = redis.call('HGET', seat_sections_key, seat)
  if not section_id then
    return nil, nil, not_found(event_key, 'SEAT_NOT_FOUND')
  end
  local position = redis.call('HGET', seat_positions_key, seat)
  if redis.call('GETBIT', booked_key, position) == 1 then
    return nil, nil, refuse('SEAT_BOOKED')
  end
  return section_id, position, nil
end

-- A refusal unless `user` holds the seat's lock right now.
local function refuse_unless_holder(lock_key, user)
  local holder = redis.call('GET', lock_key)
  if not holder then
    return refuse('SEAT_NOT_LOCKED')
  end
  if holder ~= user then
    return refuse('LOCK_NOT_OWNED')
  end
  return nil
end

-- A seat is locked while its lock index entry lies in the future. The index mirrors the lock keys
-- (same expiry, written in the same scripts) so that scripts which cannot name every lock key
-- (picking free seats, listing) still see the locks.
local function seat_is_locked(lock_index_key, seat, now)
  local expiry = redis.call('ZSCORE', lock_index_key, seat)
  return expiry ~= false and tonumber(expiry) > now
end

-- General admission holds take their quantity out of `remaining` when they are made and give
-- it back when they end. The event's hold index (a zset, score = expiry in ms on Redis's
-- clock) has one member per live general admission hold, "<hold>:<section>:<qty>:<user>"
-- (none of these contain ':'). The first script that reads or takes the event's remaining
-- after a hold expired gives its quantity back; reads that may not write (GET /events/{id})
-- count expired members as remaining. No timer anywhere. `user_held` counts the quantity each
-- user holds (`<user>`, `<user>:<section>`) for maxPerUser.
local function parse_held(member)
  local hold, section, qty, user = string.match(member, '^([^:]+):([^:]+):([^:]+):([^:]+)$')
  return hold, section, tonumber(qty), user
end

local function give_back_held(sections_key, user_held_key, member)
  local _, section, qty, user = parse_held(member)
  redis.call('HINCRBY', sections_key, section .. ':remaining', qty)
  redis.call('HINCRBY', user_held_key, user, -qty)
  redis.call('HINCRBY', user_held_key, user .. ':' .. section, -qty)
end

local function reclaim_expired_holds(holds_key, sections_key, user_held_key, now)
  local expired = redis.call('ZRANGE', holds_key, '-inf', now, 'BYSCORE')
  for _, member in ipairs(expired) do
    give_back_held(sections_key, user_held_key, member)
    redis.call('ZREM', holds_key, member)
  end
end

-- Per-user limits (maxPerUser on the event, `*:max`, or on a section, `<section>:max`, in the
-- sections hash): what a user holds (live seat locks, general admission holds) plus has
-- booked, after taking `adding` more in `section_id`, must stay within each limit. Reads only:
-- a refusal writes nothing. `user_tickets` counts booked tickets per user (`<user>`) and per
-- user and section (`<user>:<section>`); `user_locks` holds the user's locks (seat -> expiry);
-- `user_held` their general admission holds (reclaim expired ones first).
local function refuse_over_user_limit(sections_key, user_tickets_key, user_locks_key,
                                      user_held_key, seat_sections_key, user, section_id,
                                      adding, now)
  local limits = redis.call('HMGET', sections_key, '*:max', section_id .. ':max')
  if not limits[1] and not limits[2] then
    return nil
  end
  local booked = redis.call('HMGET', user_tickets_key, user, user .. ':' .. section_id)
  local held = redis.call('HMGET', user_held_key, user, user .. ':' .. section_id)
  local live = redis.call('ZRANGE', user_locks_key, '(' .. now, '+inf', 'BYSCORE')
  if limits[1] then
    local current = (tonumber(booked[1]) or 0) + (tonumber(held[1]) or 0) + #live
    if current + adding > tonumber(limits[1]) then
      return refuse('USER_LIMIT_REACHED', { limit = tonumber(limits[1]), current = current })
    end
  end
  if limits[2] then
    local held_here = 0
    for _, seat in ipairs(live) do
      if redis.call('HGET', seat_sections_key, seat) == section_id then
        held_here = held_here + 1
      end
    end
    local current = (tonumber(booked[2]) or 0) + (tonumber(held[2]) or 0) + held_here
    if current + adding > tonumber(limits[2]) then
      return refuse('USER_LIMIT_REACHED', { limit = tonumber(limits[2]), current = current })
    end
  end
  return nil
end

-- Adds `qty` (negative to give back) to what `user` has booked in the event and section.
local function count_user_tickets(user_tickets_key, user, section_id, qty)
  redis.call('HINCRBY', user_tickets_key, user, qty)
  redis.call('HINCRBY', user_tickets_key, user .. ':' .. section_id, qty)
end

-- GCRA rate limit on Redis's clock: at most `rate` per second, with a burst of `burst`.
-- Returns a refusal (RATE_LIMITED, with retryAfterMs) or nil, having counted this request.
local function refuse_over_rate(bucket_key, rate, burst)
  rate = tonumber(rate)
  if not bucket_key or not rate or rate <= 0 then
    return nil
  end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local interval = 1000000 / rate
  local tolerance = interval * tonumber(burst)
  local tat = tonumber(redis.call('GET', bucket_key)) or now
  if tat < now then
    tat = now
  end
  local next_tat = tat + interval
  if next_tat - now > tolerance then
    return refuse('RATE_LIMITED', { retryAfterMs = math.ceil((next_tat - tolerance - now) / 1000) })
  end
  redis.call('SET', bucket_key, string.format('%d', next_tat), 'PX', math.ceil(tolerance / 1000) + 1000)
  return nil
end
