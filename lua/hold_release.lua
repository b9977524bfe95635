-- DELETE /events/{eventId}/holds/{holdId}: give a live hold's seats or quantity back now.
-- Only its user. An expired hold has given them back already (or does so here).

local now = now_ms()
reclaim_expired_holds(K.holds, K.sections, K.user_held, K.version, K.changes, now)
local hold = live_hold(K.hold, A.user)
if not hold or hold.expiresAt <= now then
  return refuse('HOLD_NOT_FOUND')
end

local change = release_held(hold, A.user, K.sections, K.seat_positions, K.seat_lock_prefix,
  K.lock_index, K.user_locks, K.held_seats, K.holds, K.user_held)
if hold.checkout then
  redis.call('ZREM', K.checkouts, A.user)
end
hold.status = 'released'
local document = cjson.encode(hold)
redis.call('SET', K.hold, document, 'KEEPTTL')
announce(K.version, K.changes, change)
return reply_json(document)
