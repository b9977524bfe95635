-- POST /events/{eventId}/holds: hold named seats (A.seats, a JSON list) or a quantity of a
-- section (A.section_id, A.qty; on a reserved section the best available seats, side by side
-- when A.together is '1', see best_seats in lib.lua) for a user, all or nothing, until
-- now + A.ttl_ms on Redis's clock. Named seats are held with the same lock keys (and lock
-- index) as single seat locks, so every script sees them as locked; a quantity leaves
-- `remaining` at once and comes back by itself when the hold expires (see lib.lua).

local user = A.user
local now = now_ms()
local not_admitted, in_room = refuse_unless_admitted(K.sections, K.admissions, user, A.admitted, now)
if not_admitted then
  return not_admitted
end
reclaim_expired_holds(K.holds, K.sections, K.user_held, K.version, K.changes, now)
clear_expired_locks(K.lock_index, K.held_seats, K.seat_positions, K.version, K.changes, now)
-- Never past its longest life, even at the start.
local expires_at = now + math.min(tonumber(A.ttl_ms), tonumber(A.max_lifetime_ms))
local hold = {
  id = A.hold_id, eventId = A.event_id, userId = user, createdAt = now, expiresAt = expires_at,
  extensionsLeft = tonumber(A.max_extensions), status = 'held',
}
local max_locks = tonumber(A.max_locks)

-- What the user may hold: MAX_TICKETS_HELD_PER_USER, then maxPerUser, for `adding` more.
local function over_user_limits(section_id, adding)
  return refuse_over_held(K.user_locks, K.user_held, user, adding, A.max_held, now)
    or refuse_over_user_limit(K.sections, K.user_tickets, K.user_locks, K.user_held,
      K.seat_sections, user, section_id, adding, now)
end

local seats, ga = nil, nil
if A.seats ~= '' then
  seats = cjson.decode(A.seats)
else
  local section_id, qty = A.section_id, tonumber(A.qty)
  local section = redis.call('HMGET', K.sections, section_id .. ':remaining', section_id .. ':first',
    section_id .. ':last', section_id .. ':rows')
  if not section[1] then
    return not_found(K.event, 'SECTION_NOT_FOUND')
  end
  if section[2] then
    local chosen, free = best_seats(K.booked_seats, K.held_seats,
      tonumber(section[2]), tonumber(section[3]), section[4], qty, A.together == '1')
    if not chosen then
      if free >= qty then
        return refuse('NO_ADJACENT_SEATS', { requested = qty })
      end
      return refuse('INSUFFICIENT_INVENTORY', { requested = qty, remaining = tonumber(section[1]), unlocked = free })
    end
    seats = {}
    for _, position in ipairs(chosen) do
      seats[#seats + 1] = redis.call('HGET', K.seats_at, position)
    end
  else
    ga = { section_id = section_id, qty = qty, remaining = tonumber(section[1]) }
  end
end

if seats then
  local section_id, booked, taken, mine = nil, {}, {}, 0
  local frees_at, positions = nil, {}
  for _, seat in ipairs(seats) do
    local here = redis.call('HGET', K.seat_sections, seat)
    if not here then
      return not_found(K.event, 'SEAT_NOT_FOUND')
    end
    if section_id and here ~= section_id then
      return refuse('INVALID_REQUEST', { message = 'the seats of one hold must be in one section' })
    end
    section_id = here
    local position = redis.call('HGET', K.seat_positions, seat)
    positions[#positions + 1] = position
    if redis.call('GETBIT', K.booked_seats, position) == 1 then
      booked[#booked + 1] = seat
    else
      local holder = redis.call('GET', K.seat_lock_prefix .. seat)
      if holder and holder ~= user
          and redis.call('PEXPIRETIME', K.seat_lock_prefix .. seat) <= now then
        -- Expired at `now` (TIME), which clear_expired_locks already went by, yet still
        -- visible here: a script sees keys expire on the clock of its start, a little earlier.
        -- The seat is free; taking it overwrites the lock.
        holder = nil
      end
      if holder == user then
        mine = mine + 1
      elseif holder then
        taken[#taken + 1] = seat
        local ends = redis.call('PEXPIRETIME', K.seat_lock_prefix .. seat)
        if not frees_at or ends < frees_at then
          frees_at = ends
        end
      end
    end
  end
  if #booked > 0 then
    return refuse('SEAT_BOOKED', { seats = booked })
  end
  if #taken > 0 then
    -- Never who holds them; when the first frees up is fair to tell.
    return refuse('SEAT_LOCKED', { seats = taken, lockExpiresAt = frees_at })
  end
  local adding = #seats - mine
  if max_locks > 0 then
    local live = redis.call('ZCOUNT', K.user_locks, '(' .. now, '+inf')
    if live + adding > max_locks then
      return refuse('USER_LIMIT_REACHED', { limit = max_locks, current = live })
    end
  end
  local over = over_user_limits(section_id, adding)
  if over then
    return over
  end
  for i, seat in ipairs(seats) do
    take_seat_lock(K.seat_lock_prefix .. seat, K.lock_index, K.user_locks, K.held_seats, seat,
      positions[i], user, expires_at)
  end
  redis.call('ZREMRANGEBYSCORE', K.user_locks, '-inf', now)
  hold.sectionId, hold.seats, hold.qty = section_id, seats, #seats
  announce(K.version, K.changes, { section = section_id, status = 'locked', seats = seats, expiresAt = expires_at })
else
  local section_id, qty, remaining = ga.section_id, ga.qty, ga.remaining
  if remaining < qty then
    return refuse('INSUFFICIENT_INVENTORY', { requested = qty, remaining = remaining })
  end
  local over = over_user_limits(section_id, qty)
  if over then
    return over
  end
  local left = redis.call('HINCRBY', K.sections, section_id .. ':remaining', -qty)
  redis.call('HINCRBY', K.user_held, user, qty)
  redis.call('HINCRBY', K.user_held, user .. ':' .. section_id, qty)
  redis.call('ZADD', K.holds, expires_at,
    held_member(A.hold_id, section_id, qty, user))
  hold.sectionId, hold.qty = section_id, qty
  announce(K.version, K.changes, { section = section_id, remaining = left,
    hold = A.hold_id .. ' ' .. qty .. ' ' .. expires_at })
  emit_if_sold_out(K.outbox, A.event_id, section_id, left)
end

if in_room then
  use_admission_for_hold(K.admissions, K.checkouts, user, expires_at)
  hold.checkout = true
end
local document = cjson.encode(hold)
redis.call('SET', K.hold, document, 'PXAT', now + tonumber(A.max_lifetime_ms) + 86400000)
return reply_json(document)
