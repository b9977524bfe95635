-- Before a booking is made in an event (by `book`, `confirm_seat`) or cancelled with a key: in
-- the USER's slot, count the request against the user's rate limit, claim its Idempotency-Key
-- (a key already used for another request is refused), and add the event to the user's index
-- of events, so that listing the user's bookings finds every event they have a booking in, at
-- a cost in proportion to those events.
--
-- This runs first, the booking script (in the event's slot) after: a replica that dies between
-- the two leaves an index entry without a booking, which listing skips; never a booking the
-- user's listing cannot find. `boxoffice audit` checks that every booking's event is indexed.

local limited = refuse_over_rate(K.user_rate, A.rate, A.burst)
if limited then
  return limited
end
if K.claim then
  local first = redis.call('GET', K.claim)
  if first and first ~= A.fingerprint then
    return refuse('IDEMPOTENCY_KEY_REUSED')
  end
  if not first then
    redis.call('SET', K.claim, A.fingerprint, 'PX', A.ttl_ms)
  end
end
redis.call('ZADD', K.user_events, 'NX', 0, A.event_id)
return reply({})
