-- POST /events/{eventId}/holds/{holdId}/confirm: one booking with every seat (or the whole
-- quantity) of a live hold, in one step. Only its user; an expired hold is HOLD_EXPIRED.

local replay = idempotent_replay(K.idempotency, A.fingerprint)
if replay then
  return replay
end

local user = A.user
local now = now_ms()
local hold = live_hold(K.hold, user)
if not hold then
  return refuse('HOLD_NOT_FOUND')
end
if hold.expiresAt <= now then
  reclaim_expired_holds(K.holds, K.sections, K.user_held, K.version, K.changes, now)
  return refuse('HOLD_EXPIRED')
end

local positions = {}
if hold.seats then
  -- Its user may have released a seat through the seat API meanwhile: then nothing is booked.
  local lost = {}
  for _, seat in ipairs(hold.seats) do
    local position = redis.call('HGET', K.seat_positions, seat)
    if redis.call('GETBIT', K.booked_seats, position) == 1
        or redis.call('GET', K.seat_lock_prefix .. seat) ~= user then
      lost[#lost + 1] = seat
    end
    positions[#positions + 1] = position
  end
  if #lost > 0 then
    return refuse('SEAT_NOT_LOCKED', { seats = lost })
  end
end

local document = write_booking(K.booking, {
  id = A.booking_id, eventId = A.event_id, sectionId = hold.sectionId, qty = hold.qty,
  seats = hold.seats, userId = user,
  unitPrice = tonumber(redis.call('HGET', K.sections, hold.sectionId .. ':price')),
  status = 'confirmed', createdAt = tonumber(A.created_at),
})
if not document then
  return refuse('ID_COLLISION')
end
local remaining
if hold.seats then
  for i, seat in ipairs(hold.seats) do
    redis.call('SETBIT', K.booked_seats, positions[i], 1)
    drop_seat_lock(K.seat_lock_prefix .. seat, K.lock_index, K.user_locks, K.held_seats, seat,
      positions[i])
  end
  remaining = redis.call('HINCRBY', K.sections, hold.sectionId .. ':remaining', -hold.qty)
else
  -- The quantity left `remaining` when the hold was made.
  redis.call('ZREM', K.holds, held_member(hold.id, hold.sectionId, hold.qty, user))
  redis.call('HINCRBY', K.user_held, user, -hold.qty)
  redis.call('HINCRBY', K.user_held, user .. ':' .. hold.sectionId, -hold.qty)
  remaining = tonumber(redis.call('HGET', K.sections, hold.sectionId .. ':remaining'))
end
count_user_tickets(K.sections, K.user_tickets, user, hold.sectionId, hold.qty)
index_booking(K.bookings, K.user_bookings, A.booking_id)
-- A booking uses the user's admission to the waiting room, if any; the hold's checkout ends.
redis.call('ZREM', K.admissions, user)
if hold.checkout then
  redis.call('ZREM', K.checkouts, user)
end
hold.status = 'confirmed'
hold.bookingId = A.booking_id
redis.call('SET', K.hold, cjson.encode(hold), 'KEEPTTL')
announce(K.version, K.changes, { section = hold.sectionId, remaining = remaining,
  status = hold.seats and 'booked', seats = hold.seats })
return remember_reply(K.idempotency, A.fingerprint, A.ttl_ms, booking_reply(document, remaining))
