-- Cancel a confirmed booking and give its quantity (and seats) back, exactly once; the user's
-- allowance (maxPerUser) comes back with it. Its user may, and whoever manages its event
-- (may_manage); to anyone else it does not exist.

local replay = idempotent_replay(K.idempotency, A.fingerprint)
if replay then
  return replay
end

local booking, missing = stored_document(K.booking, 'BOOKING_NOT_FOUND')
if missing then
  return missing
end
if booking.userId ~= A.actor and not may_manage(K.organizers, A.actor, A.role) then
  return refuse('BOOKING_NOT_FOUND')
end
if booking.status ~= 'confirmed' then
  return refuse('BOOKING_ALREADY_CANCELLED')
end
if booking.orderId then
  -- Paid for: cancelling it is cancelling its order, which says what is owed back.
  return refuse('BOOKING_HAS_ORDER', { message = 'this booking was paid for by order ' ..
    booking.orderId .. ': cancel it with DELETE /orders/' .. booking.orderId })
end

local document, remaining = unbook(K.booking, booking, tonumber(A.cancelled_at), K.sections,
  K.user_tickets, K.seat_positions, K.booked_seats, K.version, K.changes, K.revoked)
emit(K.outbox, 'booking.cancelled', document)
return remember_reply(K.idempotency, A.fingerprint, A.ttl_ms, booking_reply(document, remaining))
