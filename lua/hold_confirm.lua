-- POST /events/{eventId}/holds/{holdId}/confirm: one booking with every seat (or the whole
-- quantity) of a live hold, in one step. Only its user; an expired hold is HOLD_EXPIRED.

local replay = idempotent_replay(K.idempotency, A.fingerprint)
if replay then
  return replay
end

local user = A.user
local hold, gone = unexpired_hold(K.hold, user, now_ms(), K.holds, K.sections, K.user_held,
  K.version, K.changes)
if gone then
  return gone
end
local positions, lost = {}, {}
if hold.seats then
  -- Its user may have released a seat through the seat API meanwhile: then nothing is booked.
  positions, lost = hold_seats_lost(hold, user, K.seat_positions, K.booked_seats, K.seat_lock_prefix)
end
local refusal = (#lost > 0 and refuse('SEAT_NOT_LOCKED', { seats = lost }))
  or refuse_unless_direct_booking(K.sections, K.organizers, user, A.role)
if refusal then
  return refusal
end

local document = write_booking(K.booking, K.sections, {
  id = A.booking_id, eventId = A.event_id, sectionId = hold.sectionId, qty = hold.qty,
  seats = hold.seats, userId = user,
  unitPrice = tonumber(redis.call('HGET', K.sections, hold.sectionId .. ':price')),
  status = 'confirmed', createdAt = tonumber(A.created_at),
})
if not document then
  return refuse('ID_COLLISION')
end
local remaining = book_held(hold, user, positions, K.sections, K.booked_seats,
  K.seat_lock_prefix, K.lock_index, K.user_locks, K.held_seats, K.holds, K.user_held)
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
  status = hold.seats and 'booked', seats = hold.seats, hold = not hold.seats and hold.id or nil })
emit(K.outbox, 'booking.created', document)
emit_if_sold_out(K.outbox, A.event_id, hold.sectionId, remaining)
return remember_reply(K.idempotency, A.fingerprint, A.ttl_ms, booking_reply(document, remaining))
