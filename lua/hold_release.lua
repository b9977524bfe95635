-- DELETE /events/{eventId}/holds/{holdId}: give a live hold's seats or quantity back now.
-- Only its user. An expired hold has given them back already (or does so here).

local now = now_ms()
reclaim_expired_holds(K.holds, K.sections, K.user_held, K.version, K.changes, now)
local hold = live_hold(K.hold, A.user)
if not hold or hold.expiresAt <= now then
  return refuse('HOLD_NOT_FOUND')
end

local change = { section = hold.sectionId }
if hold.seats then
  change.status, change.seats = 'available', {}
  for _, seat in ipairs(hold.seats) do
    if redis.call('GET', K.seat_lock_prefix .. seat) == A.user then
      change.seats[#change.seats + 1] = seat
      drop_seat_lock(K.seat_lock_prefix .. seat, K.lock_index, K.user_locks, K.held_seats, seat,
        redis.call('HGET', K.seat_positions, seat))
    end
  end
else
  local member = held_member(hold.id, hold.sectionId, hold.qty, hold.userId)
  if redis.call('ZREM', K.holds, member) == 1 then
    local _, remaining = give_back_held(K.sections, K.user_held, member)
    change.remaining = remaining
  end
end
if hold.checkout then
  redis.call('ZREM', K.checkouts, A.user)
end
hold.status = 'released'
local document = cjson.encode(hold)
redis.call('SET', K.hold, document, 'KEEPTTL')
announce(K.version, K.changes, change)
return reply_json(document)
