-- POST /events/{eventId}/holds/{holdId}/extend: the hold lives until now + A.ttl_ms, at most
-- HOLD_MAX_EXTENSIONS times in all (counted down in the hold) and never past A.max_lifetime_ms
-- after it was made. Only its user, only while it lives.

local hold = live_hold(K.hold, A.user)
if not hold then
  return refuse('HOLD_NOT_FOUND')
end
local now = now_ms()
if hold.expiresAt <= now then
  return refuse('HOLD_EXPIRED')
end
local longest = hold.createdAt + tonumber(A.max_lifetime_ms)
if hold.extensionsLeft <= 0 or hold.expiresAt >= longest then
  return refuse('HOLD_EXTENSION_LIMIT')
end
local expires_at = math.min(now + tonumber(A.ttl_ms), longest)

-- The seats stay locked, until later; a quantity stays taken (only its ETag changes).
local change = { section = hold.sectionId }
if hold.seats then
  change.status, change.seats, change.expiresAt = 'locked', {}, expires_at
  for _, seat in ipairs(hold.seats) do
    -- A seat its user released through the seat API stays released.
    if redis.call('GET', K.seat_lock_prefix .. seat) == A.user then
      change.seats[#change.seats + 1] = seat
      redis.call('PEXPIREAT', K.seat_lock_prefix .. seat, expires_at)
      redis.call('ZADD', K.lock_index, expires_at, seat)
      redis.call('ZADD', K.user_locks, expires_at, seat)
    end
  end
else
  redis.call('ZADD', K.holds, 'XX', expires_at,
    held_member(hold.id, hold.sectionId, hold.qty, hold.userId))
  change.hold = hold.id .. ' ' .. hold.qty .. ' ' .. expires_at
end
if hold.checkout then
  -- The admission it used lasts as long as the hold.
  redis.call('ZADD', K.checkouts, 'XX', expires_at, A.user)
end
hold.expiresAt = expires_at
hold.extensionsLeft = hold.extensionsLeft - 1
local document = cjson.encode(hold)
redis.call('SET', K.hold, document, 'KEEPTTL')
announce(K.version, K.changes, change)
return reply_json(document)
