-- A payment for an order, as its provider reported it (POST /payments/stripe/webhook, or an
-- admin's POST /orders/{orderId}/payments): applied once per provider reference, whatever the
-- provider sends twice. A.amount is in cents; A.currency ISO 4217.
--   * the amount or currency differs: not paid; the payment is kept, the order flagged
--     `payment_mismatch` (while open) for a person to resolve;
--   * the order is paid already: a second payment, owed back (refund);
--   * open and in time, everything still held by it: paid, its booking made;
--   * otherwise (late: expired or cancelled, or its hold lost a seat): if every seat or ticket
--     is free it is revived (paid, taking them now); if not, `refund_required`, nothing taken.
-- The reply is {"order": ..., "result": ...}; the same reference again replays it.

local reference = A.provider .. ':' .. A.reference
local done = redis.call('HGET', K.payments, reference)
if done then
  local outcome = cjson.decode(done)
  outcome.order = cjson.decode(redis.call('GET', K.order))
  outcome.replayed = true
  return reply(outcome)
end
local order, missing = stored_document(K.order, 'ORDER_NOT_FOUND')
if missing then
  return missing
end
local now = now_ms()
local amount = tonumber(A.amount)
local item = order.items[1]
local held = { id = order.holdId, sectionId = item.sectionId, qty = item.qty, seats = item.seats }
local payment = { provider = A.provider, reference = A.reference, amount = amount,
  currency = A.currency, receivedAt = now }
local open = order.status == 'pending_payment' or order.status == 'payment_mismatch'

local function owe(sum)
  local refund = order.refund or { amount = 0, status = 'owed' }
  refund.amount = refund.amount + sum
  refund.status = 'owed'
  order.refund = refund
end

-- The booking this payment makes, with the order's id on it.
local function book(remaining)
  local document = write_booking(K.booking, K.sections, {
    id = A.booking_id, eventId = order.eventId, sectionId = item.sectionId, qty = item.qty,
    seats = item.seats, userId = order.userId, unitPrice = item.unitPrice, status = 'confirmed',
    createdAt = now, orderId = order.id,
  })
  count_user_tickets(K.sections, K.user_tickets, order.userId, item.sectionId, item.qty)
  index_booking(K.bookings, K.user_bookings, A.booking_id)
  redis.call('ZREM', K.admissions, order.userId)
  redis.call('ZREM', K.checkouts, order.userId)
  announce(K.version, K.changes, { section = item.sectionId, remaining = remaining,
    status = item.seats and 'booked', seats = item.seats,
    hold = not item.seats and order.holdId or nil })
  emit(K.outbox, 'booking.created', document)
  emit_if_sold_out(K.outbox, order.eventId, item.sectionId, remaining)
  order.status, order.paidAt, order.bookingId = 'paid', now, A.booking_id
  return document
end

if redis.call('EXISTS', K.booking) == 1 then
  return refuse('ID_COLLISION')
end
if A.currency ~= order.currency or amount ~= order.amount then
  payment.result = 'mismatch'
  if order.status == 'pending_payment' then
    order.status = 'payment_mismatch'
  end
elseif order.status == 'paid' or order.status == 'refund_required' then
  payment.result = 'duplicate'
  owe(amount)
else
  local positions, lost = {}, {}
  if item.seats then
    positions, lost = hold_seats_lost(held, order.userId, K.seat_positions, K.booked_seats,
      K.seat_lock_prefix)
  elseif redis.call('ZSCORE', K.holds, held_member(held.id, held.sectionId, held.qty, order.userId)) == false then
    lost = { true }
  end
  if open and order.paymentDeadline > now and #lost == 0 then
    local remaining = book_held(held, order.userId, positions, K.sections, K.booked_seats,
      K.seat_lock_prefix, K.lock_index, K.user_locks, K.held_seats, K.holds, K.user_held)
    book(remaining)
    payment.result = 'paid'
  else
    -- Late. What it held went back (or goes back now): take it again if all of it is free.
    reclaim_expired_holds(K.holds, K.sections, K.user_held, K.version, K.changes, now)
    clear_expired_locks(K.lock_index, K.held_seats, K.seat_positions, K.version, K.changes, now)
    local free = true
    if item.seats then
      for i, seat in ipairs(item.seats) do
        if redis.call('GETBIT', K.booked_seats, positions[i]) == 1
            or redis.call('EXISTS', K.seat_lock_prefix .. seat) == 1 then
          free = false
        end
      end
    else
      free = tonumber(redis.call('HGET', K.sections, item.sectionId .. ':remaining')) >= item.qty
    end
    if free then
      for _, position in ipairs(positions) do
        redis.call('SETBIT', K.booked_seats, position, 1)
      end
      book(redis.call('HINCRBY', K.sections, item.sectionId .. ':remaining', -item.qty))
      payment.result = 'revived'
    else
      if open then
        -- Its inventory went back at the deadline; now it is sold or held by someone else.
        release_held(held, order.userId, K.sections, K.seat_positions, K.seat_lock_prefix,
          K.lock_index, K.user_locks, K.held_seats, K.holds, K.user_held)
      end
      order.status = 'refund_required'
      owe(amount)
      payment.result = 'refund_required'
    end
  end
end

order.payments = order.payments or {}
order.payments[#order.payments + 1] = payment
local document = cjson.encode(order)
redis.call('SET', K.order, document)
redis.call('HSET', K.payments, reference, cjson.encode({ result = payment.result }))
if payment.result == 'paid' or payment.result == 'revived' then
  emit(K.outbox, 'order.paid', document)
elseif payment.result == 'refund_required' or payment.result == 'duplicate' then
  emit(K.outbox, 'order.refund_required', document)
end
return reply_json('{"order":' .. document .. ',"result":"' .. payment.result .. '"}')
