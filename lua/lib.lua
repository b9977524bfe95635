-- Helpers shared by every script in this folder. The Rust side (src/store/scripts.rs) builds
-- each script as the definitions of this file it uses (each top-level `local` and the lines
-- up to the next), then the script with its K.<name> and A.<name> written as KEYS[i] and
-- ARGV[i]. So every script is still one self-contained EVALSHA body, and the order of its
-- keys and arguments is written once, in Rust.
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

-- Most refusals carry a few integers: their JSON is joined as a string (cjson.encode of the
-- same table measured about 1 µs more per refusal); anything else goes through cjson.
local function refuse(code, extra)
  local parts = { '{"error":"', code, '"' }
  for name, value in pairs(extra or {}) do
    if type(value) ~= 'number' or value ~= math.floor(value) or math.abs(value) >= 2^53 then
      local t = extra
      t.error = code
      return { 'refused', cjson.encode(t) }
    end
    parts[#parts + 1] = ',"' .. name .. '":' .. string.format('%d', value)
  end
  parts[#parts + 1] = '}'
  return { 'refused', table.concat(parts) }
end

-- Redis's own clock in milliseconds: the one clock every replica shares.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The JSON document at `key`, decoded; or nil and the refusal `missing` when there is none.
local function stored_document(key, missing)
  local raw = redis.call('GET', key)
  if not raw then
    return nil, refuse(missing)
  end
  return cjson.decode(raw), nil
end

-- When a lookup inside an event misses, tell "no such event" from "no such section/seat".
local function not_found(event_key, code)
  if redis.call('EXISTS', event_key) == 0 then
    return refuse('EVENT_NOT_FOUND')
  end
  return refuse(code)
end

-- Live availability. Every change of what GET /events/{id} or a seat map shows is announced in
-- the step that makes it, so a change and its notice never disagree:
--   * the event's version (INCR) goes up by one: with the count of expired lock and hold
--     entries not cleared yet, it is the ETag of both reads (src/store/version.rs);
--   * the change is appended to the event's change stream with that version as its id
--     (`<version>-0`), so ids are dense: a reader resuming after version v missed nothing if the
--     stream still holds v + 1 (src/store/changes.rs). Fields, all optional: `section` and its
--     `remaining` after the change; for named seats `status` (available, locked, booked),
--     `seats` (space separated) and, while locked, `expiresAt` (ms).
-- The stream keeps about CHANGES_KEPT entries. XADD runs under pcall: it could fail only if the
-- stream were ahead of the version, and a notice must never fail the change it announces (a
-- reader then sees a gap and reloads).
local CHANGES_KEPT = '10000'
-- `hold` is for replicas' read views only (src/views.rs; never in the public stream): a general
-- admission hold's `<holdId> <qty> <expiresAt>` when it is made or moved, `<holdId>` when it
-- leaves the hold index, so a view knows when its quantity comes back.
local CHANGE_FIELDS = { 'section', 'remaining', 'status', 'seats', 'expiresAt', 'hold' }
-- Every change is also published, `<eventId> <version>`, on one channel: replicas follow all
-- their events on one subscription (src/live.rs) and read the stream when told. Under pcall
-- too: a notice is a hint, never worth failing a change for.
local CHANGES_CHANNEL = 'bo:changes'

local function announce(version_key, changes_key, change)
  local version = redis.call('INCR', version_key)
  local fields = {}
  for _, name in ipairs(CHANGE_FIELDS) do
    local value = change[name]
    if type(value) == 'number' then
      value = string.format('%d', value)
    elseif type(value) == 'table' then
      value = table.concat(value, ' ')
    end
    if value and value ~= '' then
      fields[#fields + 1] = name
      fields[#fields + 1] = value
    end
  end
  redis.pcall('XADD', changes_key, 'MAXLEN', '~', CHANGES_KEPT, version .. '-0', unpack(fields))
  redis.pcall('PUBLISH', CHANGES_CHANNEL, string.match(version_key, '{(.-)}') .. ' ' .. version)
end

-- Outbox (webhooks, src/webhooks.rs). A business change appends its message to the event's
-- outbox in the step that makes it, so a change and its message never disagree and no crash
-- can fall between them: stream `bo:{E}:outbox`, id on Redis's clock, fields `type` (e.g.
-- `booking.created`) and `data` (the document as stored). Replicas fan each entry out to the
-- endpoints that want it and trim what every endpoint has. Not under pcall: a change whose
-- message cannot be written must not happen (XADD * fails only on a wrong type or OOM).
local function emit(outbox_key, type, data)
  redis.call('XADD', outbox_key, '*', 'type', type, 'data', data)
end

-- `event.sold_out` when a change took a section's remaining to 0.
local function emit_if_sold_out(outbox_key, event_id, section_id, remaining)
  if tonumber(remaining) == 0 then
    emit(outbox_key, 'event.sold_out', cjson.encode({ eventId = event_id, sectionId = section_id }))
  end
end

-- Tenancy. An event is managed by admins and by the organizers in its organizers set (its
-- creator, and whom they add); `role` is the caller's (`buyer`, `organizer`, `admin`, or `open`
-- in AUTH_MODE=open, where everyone may do everything).
local function may_manage(organizers_key, actor, role)
  if role == 'admin' or role == 'open' then
    return true
  end
  return role == 'organizer' and redis.call('SISMEMBER', organizers_key, actor) == 1
end

-- A webhook endpoint, decoded, when it exists and `actor` manages it (its creator, admins, and
-- everyone in AUTH_MODE=open); else nil and the refusal WEBHOOK_NOT_FOUND (to anyone else it
-- does not exist).
local function managed_endpoint(endpoint_key, actor, role)
  local endpoint, missing = stored_document(endpoint_key, 'WEBHOOK_NOT_FOUND')
  if missing then
    return nil, missing
  end
  if role == 'admin' or role == 'open' or endpoint.createdBy == actor then
    return endpoint, nil
  end
  return nil, refuse('WEBHOOK_NOT_FOUND')
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

-- A booking is one JSON document, written first and only where none is: nil on an id collision
-- (the caller refuses ID_COLLISION before any other write), else the document as stored. Its
-- tickets (one per seat, or per unit of general admission: docs/tickets.md) are made with it:
-- the section's `<section>:sold` counts them.
local function write_booking(booking_key, sections_key, booking)
  local document = cjson.encode(booking)
  if not redis.call('SET', booking_key, document, 'NX') then
    return nil
  end
  redis.call('HINCRBY', sections_key, booking.sectionId .. ':sold', booking.qty)
  return document
end

-- The event's booking index and the user's index within the event list a booking's id
-- (score 0, so members sort by id: UUIDv7 ids sort by time).
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
-- (A sold seat is refused after two calls: its position, its bit.)
local function unsold_seat(event_key, seat_sections_key, seat_positions_key, booked_key, seat)
  local position = redis.call('HGET', seat_positions_key, seat)
  if not position then
    return nil, nil, not_found(event_key, 'SEAT_NOT_FOUND')
  end
  if redis.call('GETBIT', booked_key, position) == 1 then
    return nil, nil, refuse('SEAT_BOOKED')
  end
  return redis.call('HGET', seat_sections_key, seat), position, nil
end

-- A seat lock is four things, taken and dropped together: the lock key (the holder, expiring on
-- Redis's clock), the event's lock index and the user's locks (seat -> expiry), and the seat's
-- bit in the held-seats bitmap (see clear_expired_locks).
local function take_seat_lock(lock_key, lock_index_key, user_locks_key, held_key, seat, position,
                              user, expires_at)
  redis.call('SET', lock_key, user, 'PXAT', expires_at)
  redis.call('ZADD', lock_index_key, expires_at, seat)
  redis.call('ZADD', user_locks_key, expires_at, seat)
  redis.call('SETBIT', held_key, position, 1)
end

local function drop_seat_lock(lock_key, lock_index_key, user_locks_key, held_key, seat, position)
  redis.call('DEL', lock_key)
  redis.call('ZREM', lock_index_key, seat)
  redis.call('ZREM', user_locks_key, seat)
  redis.call('SETBIT', held_key, position, 0)
end

-- A checkout hold of `user` that is still held (not confirmed, released, nor anyone else's),
-- decoded; nil otherwise. Whether it expired is the caller's to ask (`expiresAt`).
local function live_hold(hold_key, user)
  local raw = redis.call('GET', hold_key)
  if not raw then
    return nil
  end
  local hold = cjson.decode(raw)
  if hold.status ~= 'held' or hold.userId ~= user then
    return nil
  end
  return hold
end

-- The seat's section and position if it is unsold and `user` holds its lock right now; else,
-- as a third value, the refusal (unsold_seat's, SEAT_NOT_LOCKED or LOCK_NOT_OWNED).
local function held_seat(event_key, seat_sections_key, seat_positions_key, booked_key, lock_key,
                         seat, user)
  local section_id, position, refusal = unsold_seat(event_key, seat_sections_key,
    seat_positions_key, booked_key, seat)
  if refusal then
    return nil, nil, refusal
  end
  local holder = redis.call('GET', lock_key)
  if not holder then
    return nil, nil, refuse('SEAT_NOT_LOCKED')
  end
  if holder ~= user then
    return nil, nil, refuse('LOCK_NOT_OWNED')
  end
  return section_id, position, nil
end

-- General admission holds take their quantity out of `remaining` when they are made and give
-- it back when they end. The event's hold index (a zset, score = expiry in ms on Redis's
-- clock) has one member per live general admission hold, "<hold>:<section>:<qty>:<user>"
-- (none of these contain ':'). The first script that reads or takes the event's remaining
-- after a hold expired gives its quantity back; reads that may not write (GET /events/{id})
-- count expired members as remaining. No timer anywhere. `user_held` counts the quantity each
-- user holds (`<user>`, `<user>:<section>`) for maxPerUser.
local function held_member(hold, section, qty, user)
  return hold .. ':' .. section .. ':' .. qty .. ':' .. user
end

local function parse_held(member)
  local hold, section, qty, user = string.match(member, '^([^:]+):([^:]+):([^:]+):([^:]+)$')
  return hold, section, tonumber(qty), user
end

-- Returns the section and its remaining after.
local function give_back_held(sections_key, user_held_key, member)
  local _, section, qty, user = parse_held(member)
  local remaining = redis.call('HINCRBY', sections_key, section .. ':remaining', qty)
  redis.call('HINCRBY', user_held_key, user, -qty)
  redis.call('HINCRBY', user_held_key, user .. ':' .. section, -qty)
  return section, remaining
end

-- Returns how many holds it reclaimed.
local function reclaim_expired_holds(holds_key, sections_key, user_held_key, version_key,
                                     changes_key, now)
  local expired = redis.call('ZRANGE', holds_key, '-inf', now, 'BYSCORE')
  for _, member in ipairs(expired) do
    local section, remaining = give_back_held(sections_key, user_held_key, member)
    redis.call('ZREM', holds_key, member)
    announce(version_key, changes_key, { section = section, remaining = remaining,
      hold = parse_held(member) })
  end
  return #expired
end

-- The per-user limits that apply in a section: the values of `*:max` and `<section>:max` (from
-- `limits` if the caller read them already), or nil if neither is set.
local function user_limits(sections_key, section_id, limits)
  limits = limits or redis.call('HMGET', sections_key, '*:max', section_id .. ':max')
  if not limits[1] and not limits[2] then
    return nil
  end
  return limits
end

-- Per-user limits (maxPerUser on the event, `*:max`, or on a section, `<section>:max`, in the
-- sections hash): what a user holds (live seat locks, general admission holds) plus has
-- booked, after taking `adding` more in `section_id`, must stay within each limit. Reads only:
-- a refusal writes nothing. `user_tickets` counts booked tickets per user (`<user>`) and per
-- user and section (`<user>:<section>`); `user_locks` holds the user's locks (seat -> expiry);
-- `user_held` their general admission holds (reclaim expired ones first). `limits` as for
-- user_limits.
local function refuse_over_user_limit(sections_key, user_tickets_key, user_locks_key,
                                      user_held_key, seat_sections_key, user, section_id,
                                      adding, now, limits)
  limits = user_limits(sections_key, section_id, limits)
  if not limits then
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

-- MAX_TICKETS_HELD_PER_USER (`max`, 0: none): what `user` holds live in the event (seat locks,
-- which include the seats of holds, and the quantity of general admission holds) may not pass
-- `max` after taking `adding` more. Call reclaim_expired_holds first: `user_held` then counts
-- live holds only; expired locks are not counted (their index score is past).
local function refuse_over_held(user_locks_key, user_held_key, user, adding, max, now)
  max = tonumber(max)
  if not max or max <= 0 then
    return nil
  end
  local held = redis.call('ZCOUNT', user_locks_key, '(' .. now, '+inf')
    + (tonumber(redis.call('HGET', user_held_key, user)) or 0)
  if held + adding > max then
    return refuse('USER_LIMIT_REACHED', { limit = max, current = held })
  end
  return nil
end

-- Adds `qty` (negative to give back) to what `user` has booked in the event and section. The
-- counts exist for limits only, and limits are set when the event is created and never change:
-- where no limit applies (neither `*:max` nor `<section>:max`) nothing is counted, two writes
-- less per booking. `limits` as for user_limits.
local function count_user_tickets(sections_key, user_tickets_key, user, section_id, qty, limits)
  if not user_limits(sections_key, section_id, limits) then
    return
  end
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

-- Seats held right now (seat locks and the seats of holds) also have their bit set in the
-- event's held-seats bitmap, at the seat's position, so that best_seats counts and reads them
-- a row at a time instead of one lock at a time. A lock's key expires by itself; its bit is
-- cleared, from the lock index's expired entries, by the next script that reads the bitmap or
-- locks a seat.
local function clear_expired_locks(lock_index_key, held_key, seat_positions_key, version_key,
                                   changes_key, now)
  local expired = redis.call('ZRANGE', lock_index_key, '-inf', now, 'BYSCORE')
  if #expired == 0 then
    return
  end
  announce(version_key, changes_key, { status = 'available', seats = expired })
  for i = 1, #expired, 1000 do
    local positions = redis.call('HMGET', seat_positions_key, unpack(expired, i, math.min(i + 999, #expired)))
    for _, position in ipairs(positions) do
      if position then
        redis.call('SETBIT', held_key, position, 0)
      end
    end
  end
  redis.call('ZREMRANGEBYSCORE', lock_index_key, '-inf', now)
end

-- Best available seats of a reserved section: `qty` seats nobody has booked or holds, chosen
-- in one step (call clear_expired_locks first). `first`, `last` are the section's seat
-- positions and `rows_field` its rows' seat counts, the best row first (missing: one row).
-- With `together`, a block of `qty` consecutive seats in one row: the frontmost row that has
-- one; in it, a block that leaves no single empty seat between itself and a taken seat or the
-- row's end if the row has such a block; among those, the one nearest the row's centre.
-- Without `together`: such a block if any row has one, else the seats of the fewest rows (the
-- rows with most free seats first, each from its centre outwards). Returns the positions, or
-- nil and how many seats are free.
--
-- Cost: two BITCOUNTs per row (sold, held: counted in C), then seat by seat only in rows with
-- room, front to back, stopping at the first row with a block.
local function best_seats(booked_key, held_key, first, last, rows_field, qty, together)
  local rows, start, free_total = {}, first, 0
  for count in string.gmatch(rows_field or tostring(last - first + 1), '%d+') do
    local row_last = start + tonumber(count) - 1
    local taken = redis.call('BITCOUNT', booked_key, start, row_last, 'BIT')
      + redis.call('BITCOUNT', held_key, start, row_last, 'BIT')
    local row = { first = start, last = row_last, free = tonumber(count) - taken }
    rows[#rows + 1] = row
    free_total = free_total + row.free
    start = row_last + 1
  end
  if free_total < qty then
    return nil, free_total
  end

  -- The row's free positions, in order, from the bytes of both bitmaps.
  local function free_in(row)
    local free = {}
    local from, to = math.floor(row.first / 8), math.floor(row.last / 8)
    local sold = redis.call('GETRANGE', booked_key, from, to)
    local held = redis.call('GETRANGE', held_key, from, to)
    -- A byte at a time; a byte whose eight seats are all taken is skipped whole.
    for at = 1, to - from + 1 do
      local byte = bit.bor(string.byte(sold, at) or 0, string.byte(held, at) or 0)
      if byte ~= 0xFF then
        local base = (from + at - 1) * 8
        for offset = 0, 7 do
          local position = base + offset
          if position >= row.first and position <= row.last
              and bit.band(byte, bit.rshift(0x80, offset)) == 0 then
            free[#free + 1] = position
          end
        end
      end
    end
    return free
  end

  -- A block in each row with room for one, front rows first.
  for _, row in ipairs(rows) do
    if row.free >= qty then
      local free = free_in(row)
      row.positions = free
      local centre = (row.first + row.last) / 2
      local best, best_clean, best_distance = nil, false, nil
      local i = 1
      while i <= #free do
        -- The run of consecutive free seats starting at free[i].
        local j = i
        while j < #free and free[j + 1] == free[j] + 1 do
          j = j + 1
        end
        local run_start, run_end = free[i], free[j]
        for s = run_start, run_end - qty + 1 do
          local e = s + qty - 1
          local clean = (s - run_start) ~= 1 and (run_end - e) ~= 1
          local distance = math.abs((s + e) / 2 - centre)
          if not best or (clean and not best_clean)
              or (clean == best_clean and distance < best_distance) then
            best, best_clean, best_distance = s, clean, distance
          end
        end
        i = j + 1
      end
      if best then
        local positions = {}
        for p = best, best + qty - 1 do
          positions[#positions + 1] = p
        end
        return positions, free_total
      end
    end
  end
  if together then
    return nil, free_total
  end

  -- No row has a block: the fewest rows, those with most free seats first (front first on a
  -- tie), each from its centre outwards.
  local order = {}
  for index, row in ipairs(rows) do
    if row.free > 0 then
      order[#order + 1] = { index = index, row = row }
    end
  end
  table.sort(order, function(a, b)
    if a.row.free ~= b.row.free then return a.row.free > b.row.free end
    return a.index < b.index
  end)
  local positions = {}
  for _, entry in ipairs(order) do
    if #positions == qty then
      break
    end
    local row = entry.row
    local free = row.positions or free_in(row)
    local centre = (row.first + row.last) / 2
    table.sort(free, function(a, b)
      local da, db = math.abs(a - centre), math.abs(b - centre)
      if da ~= db then return da < db end
      return a < b
    end)
    for _, position in ipairs(free) do
      if #positions == qty then
        break
      end
      positions[#positions + 1] = position
    end
  end
  table.sort(positions)
  return positions, free_total
end

-- Waiting rooms (docs/waiting-room.md). An event's waiting room is set in its sections hash
-- (`wr:enabled` '1', `wr:rate` admissions per minute (0: not paced), `wr:max` live admissions
-- (0: no cap), `wr:ttl` how long an admission lives (ms), `wr:order` fifo|shuffle, `wr:start`
-- the sale's start (ms)).
-- The line is spread over the event's queue shards (QUEUE_SHARDS, fixed for the event at its
-- first refresh), each in a slot of its own (`bo:{E~k~x}`): a join is one O(1) script on the
-- joiner's shard (queue_join.lua), which gives them that shard's next place number (`seq`).
-- Polls never reach Redis: replicas answer them from what queue_advance.lua tells them at most
-- every QUEUE_REFRESH_MS. The rest is in the event's slot:
--   q:rounds    list: the shards' place counts as replicas read them (csv, each round at
--               least the one before): the places that came between round r-1 and round r
--               are in line after all earlier ones, shard by shard. So every place has an
--               arrival index (0, 1, ...), first come first served to within one round.
--   q:state     hash: shards, served (turns released: a turn below it has come), due (ms: the
--               next paced release), outstanding (released turns neither taken nor lapsed),
--               round_at, shuffled (how many joined before the start, once drawn), seed
--   q:releases  zset: each release's first turn (score and member); q:batches hash:
--               `<first>` -> `<end>:<at>` (turns first..end-1, released at `at` ms) and
--               `<first>:taken`
--   q:taken     hash: user -> the place (`<shard>.<seq>`) whose turn gave their admission
--   admissions  zset user -> when their admission ends (ms)
--   checkouts   zset user -> when the hold their admission went into ends (ms): an admission
--               covers one checkout; the hold made with it uses it (the admission leaves
--               `admissions`), and the holder still counts against `wr:max` until the hold
--               is confirmed, released or expires
-- A turn is taken by its holder's poll (queue_admit.lua) within QUEUE_ABANDON_MS of its
-- release, or it lapses: its share of the pace and of `wr:max` goes to the next in line.
-- Nothing here runs on a timer: the queue moves on in the scripts replicas run for people
-- who join or ask, on Redis's clock.

-- At most this many admissions per step (a step's Redis time stays bounded).
local QUEUE_STEP = 500
-- Unused pacing does not pile up beyond this much time's worth of admissions.
local QUEUE_BACKLOG_MS = 10000

-- While the waiting room is on, taking inventory needs a live admission: the replica checked
-- the Admission-Token's signature, user and event (admitted '1'); this checks the admission
-- was neither used nor has it expired. Returns a refusal or nil, and whether the room is on.
-- `enabled`, if the caller read it already: the value of `wr:enabled`.
local function refuse_unless_admitted(sections_key, admissions_key, user, admitted, now, enabled)
  if enabled == nil then
    enabled = redis.call('HGET', sections_key, 'wr:enabled')
  end
  if enabled ~= '1' then
    return nil, false
  end
  local ends = tonumber(redis.call('ZSCORE', admissions_key, user))
  if admitted ~= '1' or not ends or ends <= now then
    return refuse('ADMISSION_REQUIRED'), true
  end
  return nil, true
end

-- A hold made under a waiting room uses the admission: it leaves `admissions` for `checkouts`
-- until the hold ends (`ends`, ms), so the same admission makes no second hold or booking.
local function use_admission_for_hold(admissions_key, checkouts_key, user, ends)
  redis.call('ZREM', admissions_key, user)
  redis.call('ZADD', checkouts_key, ends, user)
end

-- The event's waiting room settings, read once per script: nil if it has none switched on.
local function waiting_room(sections_key)
  local config = redis.call('HMGET', sections_key, 'wr:enabled', 'wr:rate', 'wr:max', 'wr:ttl',
    'wr:order', 'wr:start')
  if config[1] ~= '1' then
    return nil
  end
  return { rate = tonumber(config[2]) or 0, max = tonumber(config[3]) or 0,
           ttl = tonumber(config[4]), order = config[5], start = tonumber(config[6]) or 0 }
end

-- A queue script's start: the event's waiting room and Redis's clock; or, as a third value,
-- WAITING_ROOM_OFF (or EVENT_NOT_FOUND).
local function room_now(event_key, sections_key)
  local room = waiting_room(sections_key)
  if not room then
    return nil, nil, not_found(event_key, 'WAITING_ROOM_OFF')
  end
  return room, now_ms(), nil
end

-- The counts of the latest round of `rounds_key` (zeros before the first), for `shards`.
local function last_round(rounds_key, shards)
  local counts = {}
  local last = redis.call('LINDEX', rounds_key, -1)
  if last then
    for n in string.gmatch(last, '%d+') do
      counts[#counts + 1] = tonumber(n)
    end
  end
  for k = #counts + 1, shards do
    counts[k] = 0
  end
  return counts
end

-- Appends a round of `counts` (each at least `last`'s) to `rounds_key` if any shard grew;
-- returns the latest round, and whether it is new.
local function push_round(rounds_key, last, counts)
  local grown, round = false, {}
  for k = 1, #last do
    round[k] = math.max(last[k], counts[k] or 0)
    grown = grown or round[k] > last[k]
  end
  if grown then
    redis.call('RPUSH', rounds_key, table.concat(round, ','))
  end
  return round, grown
end

-- Released turns not taken within `abandon_ms` lapse: they leave `outstanding` and, with a
-- pace, give their share of it back (`interval` ms each). Returns outstanding and due.
local function lapse_turns(releases_key, batches_key, now, abandon_ms, outstanding, due, interval)
  local firsts = redis.call('ZRANGE', releases_key, 0, 99)
  for _, first in ipairs(firsts) do
    local batch = redis.call('HMGET', batches_key, first, first .. ':taken')
    local stop, at = string.match(batch[1] or '', '^(%d+):(%d+)$')
    if stop and tonumber(at) >= now - abandon_ms then
      break
    end
    local untaken = (tonumber(stop) or 0) - tonumber(first) - (tonumber(batch[2]) or 0)
    outstanding = outstanding - untaken
    if interval then
      due = due - untaken * interval
    end
    redis.call('ZREM', releases_key, first)
    redis.call('HDEL', batches_key, first, first .. ':taken')
  end
  return outstanding, due
end

-- How many turns `room` (from waiting_room) may release now: as many as the pace (`wr:rate`,
-- from `due`) and the cap on live admissions (`wr:max`, counting released turns not yet
-- taken) allow, at most QUEUE_STEP. Returns the number and the pace's interval (ms, or nil).
local function releasable(room, due, now, outstanding, admissions_key, checkouts_key)
  local budget, interval = QUEUE_STEP, nil
  if room.rate > 0 then
    interval = 60000 / room.rate
    budget = math.min(budget, math.floor((now - due) / interval) + 1)
  end
  if room.max > 0 then
    budget = math.min(budget, room.max - outstanding
      - redis.call('ZCOUNT', admissions_key, '(' .. now, '+inf')
      - redis.call('ZCOUNT', checkouts_key, '(' .. now, '+inf'))
  end
  return math.max(budget, 0), interval
end

-- The user's live hold, if it has not expired; else nil and the refusal: HOLD_NOT_FOUND, or
-- HOLD_EXPIRED having given back what expired holds held.
local function unexpired_hold(hold_key, user, now, holds_key, sections_key, user_held_key,
                              version_key, changes_key)
  local hold = live_hold(hold_key, user)
  if not hold then
    return nil, refuse('HOLD_NOT_FOUND')
  end
  if hold.expiresAt <= now then
    reclaim_expired_holds(holds_key, sections_key, user_held_key, version_key, changes_key, now)
    return nil, refuse('HOLD_EXPIRED')
  end
  return hold, nil
end

-- Payment (docs/orders.md). On an event whose `*:payment` is 'required', buyers book through an
-- order and its payment; the direct booking routes are for whoever manages the event (box
-- office sales). `payment`, if the caller read it already: the value of `*:payment`.
local function refuse_unless_direct_booking(sections_key, organizers_key, user, role, payment)
  if payment == nil then
    payment = redis.call('HGET', sections_key, '*:payment')
  end
  if payment ~= 'required' or may_manage(organizers_key, user, role) then
    return nil
  end
  return refuse('PAYMENT_REQUIRED')
end

-- The positions of a hold's seats, and those of them that `user` no longer holds (sold, or
-- their lock gone or someone else's): the hold books nothing unless that list is empty.
local function hold_seats_lost(hold, user, seat_positions_key, booked_key, lock_prefix)
  local positions, lost = {}, {}
  for _, seat in ipairs(hold.seats) do
    local position = redis.call('HGET', seat_positions_key, seat)
    if redis.call('GETBIT', booked_key, position) == 1
        or redis.call('GET', lock_prefix .. seat) ~= user then
      lost[#lost + 1] = seat
    end
    positions[#positions + 1] = position
  end
  return positions, lost
end

-- Books what a live hold (or the order made of it) holds: its seats become sold and their
-- locks go (`positions` from hold_seats_lost); a quantity, which left `remaining` when the hold
-- was made, leaves the hold index and the user's held count. Returns the section's remaining.
local function book_held(hold, user, positions, sections_key, booked_key, lock_prefix,
                         lock_index_key, user_locks_key, held_key, holds_key, user_held_key)
  if hold.seats then
    for i, seat in ipairs(hold.seats) do
      redis.call('SETBIT', booked_key, positions[i], 1)
      drop_seat_lock(lock_prefix .. seat, lock_index_key, user_locks_key, held_key, seat,
        positions[i])
    end
    return redis.call('HINCRBY', sections_key, hold.sectionId .. ':remaining', -hold.qty)
  end
  redis.call('ZREM', holds_key, held_member(hold.id, hold.sectionId, hold.qty, user))
  redis.call('HINCRBY', user_held_key, user, -hold.qty)
  redis.call('HINCRBY', user_held_key, user .. ':' .. hold.sectionId, -hold.qty)
  return tonumber(redis.call('HGET', sections_key, hold.sectionId .. ':remaining'))
end

-- Gives back what a live hold (or its order) holds, at once: the seats whose locks are still
-- `user`'s, or the quantity if it is still in the hold index. Returns the change to announce.
local function release_held(hold, user, sections_key, seat_positions_key, lock_prefix,
                            lock_index_key, user_locks_key, held_key, holds_key, user_held_key)
  local change = { section = hold.sectionId }
  if hold.seats then
    change.status, change.seats = 'available', {}
    for _, seat in ipairs(hold.seats) do
      if redis.call('GET', lock_prefix .. seat) == user then
        change.seats[#change.seats + 1] = seat
        drop_seat_lock(lock_prefix .. seat, lock_index_key, user_locks_key, held_key, seat,
          redis.call('HGET', seat_positions_key, seat))
      end
    end
  else
    local member = held_member(hold.id, hold.sectionId, hold.qty, user)
    if redis.call('ZREM', holds_key, member) == 1 then
      local _, remaining = give_back_held(sections_key, user_held_key, member)
      change.remaining, change.hold = remaining, hold.id
    end
  end
  return change
end

-- Cancels a confirmed booking (decoded): its quantity and seats go back on sale and the user's
-- allowance with it. Writes the booking; returns its document and the section's remaining.
local function unbook(booking_key, booking, cancelled_at, sections_key, user_tickets_key,
                      seat_positions_key, booked_key, version_key, changes_key, revoked_key)
  booking.status = 'cancelled'
  booking.cancelledAt = cancelled_at
  local document = cjson.encode(booking)
  redis.call('SET', booking_key, document)
  local remaining = redis.call('HINCRBY', sections_key, booking.sectionId .. ':remaining',
    booking.qty)
  count_user_tickets(sections_key, user_tickets_key, booking.userId, booking.sectionId,
    -booking.qty)
  if booking.seats then
    for _, seat in ipairs(booking.seats) do
      redis.call('SETBIT', booked_key, redis.call('HGET', seat_positions_key, seat), 0)
    end
  end
  redis.call('HINCRBY', sections_key, booking.sectionId .. ':sold', -booking.qty)
  announce(version_key, changes_key, { section = booking.sectionId, remaining = remaining,
    status = booking.seats and 'available', seats = booking.seats })
  -- Its tickets are revoked in the same step, at the version that announced it (scanners ask
  -- for what was revoked since the version they have).
  local version = redis.call('GET', version_key)
  for n = 1, booking.qty do
    redis.call('ZADD', revoked_key, version, booking.id .. '.' .. n)
  end
  return document, remaining
end

-- Conditional reads (GET /events/{eventId}, its seat map). The ETag is the event's version
-- (bumped by every script that changes what they show) and how many lock and general admission
-- hold entries have expired on Redis's clock without a script clearing them yet (an expiry
-- changes what the reads show without any write). Returns the tag and Redis's clock, or nil
-- when there is no such event. Reads only.
local function event_tag(event_key, version_key, lock_index_key, holds_key)
  if redis.call('EXISTS', event_key) == 0 then
    return nil
  end
  local now = now_ms()
  local version = redis.call('GET', version_key) or '0'
  local locks = redis.call('ZCOUNT', lock_index_key, '-inf', now)
  local holds = redis.call('ZCOUNT', holds_key, '-inf', now)
  return '"' .. version .. '-' .. locks .. '-' .. holds .. '"', now
end

-- Whether an If-None-Match value names `tag` or is `*` (RFC 9110: weak comparison, W/ ignored).
local function names_tag(if_none_match, tag)
  for candidate in string.gmatch(if_none_match, '[^,]+') do
    candidate = string.match(candidate, '^%s*(.-)%s*$')
    candidate = string.gsub(candidate, '^W/', '')
    if candidate == tag or candidate == '*' then
      return true
    end
  end
  return false
end

-- A conditional read's start: the tag and Redis's clock; or, as a third value, the reply that
-- ends the read: EVENT_NOT_FOUND, or {'not_modified', tag} when `if_none_match` names the tag.
local function read_tag(event_key, version_key, lock_index_key, holds_key, if_none_match)
  local tag, now = event_tag(event_key, version_key, lock_index_key, holds_key)
  if not tag then
    return nil, nil, refuse('EVENT_NOT_FOUND')
  end
  if if_none_match ~= '' and names_tag(if_none_match, tag) then
    return nil, nil, { 'not_modified', tag }
  end
  return tag, now, nil
end
