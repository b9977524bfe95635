-- Orders past their payment deadline on Redis's clock become `expired`, each announced as
-- `order.expired` in the same step. Their seats and tickets came back by themselves at the
-- deadline (the locks and hold entries expire); this writes the status every read already
-- showed (src/domain/order.rs, `as_of`), so that the outbox tells it. Run by the replicas'
-- webhook round (src/webhooks.rs) for every event, at most A.max orders a call; an order paid
-- or cancelled in time only leaves the index here. Replies {"expired": n}.
local now = now_ms()
local due = redis.call('ZRANGE', K.orders_due, '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(A.max))
local expired = 0
for _, id in ipairs(due) do
  local key = K.order_prefix .. id
  local raw = redis.call('GET', key)
  if raw then
    local order = cjson.decode(raw)
    if (order.status == 'pending_payment' or order.status == 'payment_mismatch')
        and order.paymentDeadline <= now then
      order.status = 'expired'
      order.expiredAt = now
      local document = cjson.encode(order)
      redis.call('SET', key, document)
      emit(K.outbox, 'order.expired', document)
      expired = expired + 1
    end
  end
  redis.call('ZREM', K.orders_due, id)
end
return reply_json('{"expired":' .. expired .. '}')
