-- DELETE /orders/{orderId}. An open order (waiting for payment, in time) its user or whoever
-- manages the event cancels: everything it holds goes back at once. A paid order an organizer
-- or admin cancels, or its user until the event's `*:cancel_until`: its booking is cancelled,
-- its inventory goes back, and the refund owed is the amount paid minus the event's
-- `*:fee_pct` percent. Anything else: ORDER_NOT_CANCELLABLE. To anyone who may not see the
-- order it does not exist.

local order, missing = stored_document(K.order, 'ORDER_NOT_FOUND')
if missing then
  return missing
end
local manager = may_manage(K.organizers, A.actor, A.role)
if order.userId ~= A.actor and not manager then
  return refuse('ORDER_NOT_FOUND')
end
local now = now_ms()
local item = order.items[1]
local terms = redis.call('HMGET', K.sections, '*:cancel_until', '*:fee_pct')

local function mismatched_payments()
  local sum = 0
  for _, payment in ipairs(order.payments or {}) do
    if payment.result == 'mismatch' then
      sum = sum + payment.amount
    end
  end
  return sum
end

if (order.status == 'pending_payment' or order.status == 'payment_mismatch')
    and order.paymentDeadline > now then
  local held = { id = order.holdId, sectionId = item.sectionId, qty = item.qty, seats = item.seats }
  local change = release_held(held, order.userId, K.sections, K.seat_positions,
    K.seat_lock_prefix, K.lock_index, K.user_locks, K.held_seats, K.holds, K.user_held)
  redis.call('ZREM', K.checkouts, order.userId)
  announce(K.version, K.changes, change)
  -- Money that came with a wrong amount is owed back.
  local owed = mismatched_payments()
  if owed > 0 then
    order.refund = { amount = owed, status = 'owed' }
  end
elseif order.status == 'paid' then
  local until_ms = tonumber(terms[1])
  if not manager and not (until_ms and now <= until_ms) then
    return refuse('ORDER_NOT_CANCELLABLE', { message = until_ms
      and 'the buyer may cancel a paid order until the event\'s cancellableUntil, which has passed'
      or 'this event does not let buyers cancel paid orders: ask the organizer' })
  end
  local booking_key = K.booking_prefix .. order.bookingId
  local booking = cjson.decode(redis.call('GET', booking_key))
  if booking.status == 'confirmed' then
    local cancelled = unbook(booking_key, booking, now, K.sections, K.user_tickets,
      K.seat_positions, K.booked_seats, K.version, K.changes, K.revoked)
    emit(K.outbox, 'booking.cancelled', cancelled)
  end
  local fee = math.floor(order.amount * (tonumber(terms[2]) or 0) / 100)
  local owed = order.refund and order.refund.amount or 0
  order.refund = { amount = owed + order.amount - fee + mismatched_payments(), status = 'owed' }
else
  local status = order.status
  if status == 'pending_payment' or status == 'payment_mismatch' then
    status = 'expired'
  end
  return refuse('ORDER_NOT_CANCELLABLE', { message = 'the order is ' .. status ..
    ': only an open or a paid order can be cancelled' })
end

order.status = 'cancelled'
order.cancelledAt = now
local document = cjson.encode(order)
redis.call('SET', K.order, document)
emit(K.outbox, 'order.cancelled', document)
if order.refund and order.refund.amount > 0 then
  emit(K.outbox, 'order.refund_required', document)
end
return reply_json(document)
