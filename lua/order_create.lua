-- POST /events/{eventId}/holds/{holdId}/order: the user's live hold becomes an order to pay, in
-- one step. Its seats or tickets stay taken, now until the payment deadline (now +
-- A.payment_ttl_ms on Redis's clock) whatever the hold's own expiry was: seat locks are set
-- anew to expire then, a quantity's entry in the hold index gets the deadline as its expiry,
-- so both come back by themselves if nobody pays (see lib.lua). The amount is the section's
-- price (cents) times the quantity.

local replay = idempotent_replay(K.idempotency, A.fingerprint)
if replay then
  return replay
end

local user = A.user
local now = now_ms()
local hold, gone = unexpired_hold(K.hold, user, now, K.holds, K.sections, K.user_held, K.version,
  K.changes)
if gone then
  return gone
end
local deadline = now + tonumber(A.payment_ttl_ms)

if hold.seats then
  local positions, lost = hold_seats_lost(hold, user, K.seat_positions, K.booked_seats,
    K.seat_lock_prefix)
  if #lost > 0 then
    return refuse('SEAT_NOT_LOCKED', { seats = lost })
  end
  for i, seat in ipairs(hold.seats) do
    take_seat_lock(K.seat_lock_prefix .. seat, K.lock_index, K.user_locks, K.held_seats, seat,
      positions[i], user, deadline)
  end
  announce(K.version, K.changes, { section = hold.sectionId, status = 'locked',
    seats = hold.seats, expiresAt = deadline })
else
  redis.call('ZADD', K.holds, 'XX', deadline, held_member(hold.id, hold.sectionId, hold.qty, user))
  -- Nothing public changes, but read views must know the quantity stays out until then.
  announce(K.version, K.changes, { section = hold.sectionId,
    hold = hold.id .. ' ' .. hold.qty .. ' ' .. deadline })
end
if hold.checkout then
  -- The buyer still counts against the waiting room's maxActive until the order ends.
  redis.call('ZADD', K.checkouts, 'XX', deadline, user)
end

local terms = redis.call('HMGET', K.sections, hold.sectionId .. ':price', '*:currency')
local unit_price = tonumber(terms[1])
local order = {
  id = A.order_id, eventId = A.event_id, holdId = hold.id, userId = user,
  status = 'pending_payment',
  items = { { sectionId = hold.sectionId, qty = hold.qty, seats = hold.seats, unitPrice = unit_price } },
  amount = unit_price * hold.qty, currency = terms[2] or 'EUR',
  paymentDeadline = deadline, createdAt = now,
}
local document = cjson.encode(order)
if not redis.call('SET', K.order, document, 'NX') then
  return refuse('ID_COLLISION')
end
redis.call('ZADD', K.orders, 0, A.order_id)
redis.call('ZADD', K.orders_due, deadline, A.order_id)
redis.call('ZADD', K.user_orders, 0, A.order_id)
hold.status = 'ordered'
hold.orderId = A.order_id
hold.expiresAt = deadline
redis.call('SET', K.hold, cjson.encode(hold), 'KEEPTTL')
emit(K.outbox, 'order.created', document)
return remember_reply(K.idempotency, A.fingerprint, A.ttl_ms, document)
