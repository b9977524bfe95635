-- Lock a reserved seat for a user: SET NX PX semantics, plus the booked check in the same step.
-- The same user locking again gets their existing lock back, not extended.
--
-- KEYS: 1 event document, 2 seat -> section hash, 3 seat -> position hash, 4 booked-seats bitmap,
--       5 lock index, 6 seat lock
-- ARGV: 1 seat id, 2 user id, 3 ttl (ms)

local seat, user = ARGV[1], ARGV[2]
local section_id, _, refusal = unsold_seat(seat)
if refusal then
  return refusal
end

local holder = redis.call('GET', KEYS[6])
if holder then
  local expires_at = redis.call('PEXPIRETIME', KEYS[6])
  if holder ~= user then
    -- Never say who holds it; when it frees up is fair to tell.
    return refuse('SEAT_LOCKED', { expiresAt = expires_at })
  end
  return reply({ sectionId = section_id, expiresAt = expires_at, alreadyHeld = true })
end

redis.call('SET', KEYS[6], user, 'NX', 'PX', ARGV[3])
local expires_at = redis.call('PEXPIRETIME', KEYS[6])
redis.call('ZADD', KEYS[5], expires_at, seat)
-- Drop index entries of locks that have expired since (their keys are gone already).
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now_ms())
return reply({ sectionId = section_id, expiresAt = expires_at, alreadyHeld = false })
