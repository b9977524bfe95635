-- Turn a live seat lock into a booking: only the lock's owner, only while the lock lives.

local replay = idempotent_replay(K.idempotency, A.fingerprint)
if replay then
  return replay
end

local seat, user = A.seat, A.user
local section_id, position, refusal = held_seat(K.event, K.seat_sections, K.seat_positions,
  K.booked_seats, K.seat_lock, seat, user)
refusal = refusal or refuse_unless_direct_booking(K.sections, K.organizers, user, A.role)
if refusal then
  return refusal
end

local document = write_booking(K.booking, K.sections, {
  id = A.booking_id, eventId = A.event_id, sectionId = section_id, qty = 1, seats = { seat },
  userId = user, unitPrice = tonumber(redis.call('HGET', K.sections, section_id .. ':price')),
  status = 'confirmed', createdAt = tonumber(A.created_at),
})
if not document then
  return refuse('ID_COLLISION')
end
redis.call('SETBIT', K.booked_seats, position, 1)
drop_seat_lock(K.seat_lock, K.lock_index, K.user_locks, K.held_seats, seat, position)
local remaining = redis.call('HINCRBY', K.sections, section_id .. ':remaining', -1)
count_user_tickets(K.sections, K.user_tickets, user, section_id, 1)
index_booking(K.bookings, K.user_bookings, A.booking_id)
-- A booking uses the user's admission to the waiting room, if any.
redis.call('ZREM', K.admissions, user)
announce(K.version, K.changes, { section = section_id, remaining = remaining, status = 'booked', seats = seat })
emit(K.outbox, 'booking.created', document)
emit_if_sold_out(K.outbox, A.event_id, section_id, remaining)
return remember_reply(K.idempotency, A.fingerprint, A.ttl_ms, booking_reply(document, remaining))
