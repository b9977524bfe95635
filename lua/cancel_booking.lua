-- Cancel a confirmed booking and give its quantity (and seats) back, exactly once; the user's
-- allowance (maxPerUser) comes back with it. Its user may, and whoever manages its event
-- (may_manage); to anyone else it does not exist.

local replay = idempotent_replay(K.idempotency, A.fingerprint)
if replay then
  return replay
end

local stored = redis.call('GET', K.booking)
if not stored then
  return refuse('BOOKING_NOT_FOUND')
end
local booking = cjson.decode(stored)
if booking.userId ~= A.actor and not may_manage(K.organizers, A.actor, A.role) then
  return refuse('BOOKING_NOT_FOUND')
end
if booking.status ~= 'confirmed' then
  return refuse('BOOKING_ALREADY_CANCELLED')
end

booking.status = 'cancelled'
booking.cancelledAt = tonumber(A.cancelled_at)
local document = cjson.encode(booking)
redis.call('SET', K.booking, document)
local remaining = redis.call('HINCRBY', K.sections, booking.sectionId .. ':remaining', booking.qty)
count_user_tickets(K.sections, K.user_tickets, booking.userId, booking.sectionId, -booking.qty)
if booking.seats then
  for _, seat in ipairs(booking.seats) do
    redis.call('SETBIT', K.booked_seats, redis.call('HGET', K.seat_positions, seat), 0)
  end
end
announce(K.version, K.changes, { section = booking.sectionId, remaining = remaining,
  status = booking.seats and 'available', seats = booking.seats })
return remember_reply(K.idempotency, A.fingerprint, A.ttl_ms, booking_reply(document, remaining))
