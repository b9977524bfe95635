-- Helpers shared by every script in this folder. The Rust side prepends this file to each script
-- before loading it, so each script is still one self-contained EVALSHA body.
--
-- Conventions for all scripts:
--   * every key arrives through KEYS (never built here), and all keys of one call share one
--     cluster slot, so a script runs unchanged on a single Redis or on Redis Cluster;
--   * a reply is a pair {"ok", json} or {"refused", json}, where a refusal's json is
--     {"error": CODE, ...details}. Refusals write nothing.

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

-- Idempotency. A request carrying an Idempotency-Key passes the record key as its last KEY and a
-- fingerprint of its body as an ARGV; without a key both are absent. A stored record replays the
-- first successful reply; a different fingerprint under the same key is refused.
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
-- booked-seats bitmap is 1 while that seat is sold. The seat scripts (lock, confirm, unlock)
-- take the same first keys: 1 event document, 2 seat -> section, 3 seat -> position,
-- 4 booked-seats bitmap, 5 lock index, 6 the seat's lock.

-- The seat's section and position; or, as a third value, a refusal when the seat (or its
-- event) does not exist or the seat is sold.
local function unsold_seat(seat)
  local section_id = redis.call('HGET', KEYS[2], seat)
  if not section_id then
    return nil, nil, not_found(KEYS[1], 'SEAT_NOT_FOUND')
  end
  local position = redis.call('HGET', KEYS[3], seat)
  if redis.call('GETBIT', KEYS[4], position) == 1 then
    return nil, nil, refuse('SEAT_BOOKED')
  end
  return section_id, position, nil
end

-- As unsold_seat, and refused unless `user` holds the seat's lock right now.
local function seat_held_by(seat, user)
  local section_id, position, refusal = unsold_seat(seat)
  if refusal then
    return nil, nil, refusal
  end
  local holder = redis.call('GET', KEYS[6])
  if not holder then
    return nil, nil, refuse('SEAT_NOT_LOCKED')
  end
  if holder ~= user then
    return nil, nil, refuse('LOCK_NOT_OWNED')
  end
  return section_id, position, nil
end

-- A seat is locked while its lock index entry lies in the future. The index mirrors the lock keys
-- (same expiry, written in the same scripts) so that scripts which cannot name every lock key
-- (picking free seats, listing) still see the locks.
local function seat_is_locked(lock_index_key, seat, now)
  local expiry = redis.call('ZSCORE', lock_index_key, seat)
  return expiry ~= false and tonumber(expiry) > now
end
