-- Lock a reserved seat for a user: SET NX PX semantics, plus the booked check, the user's
-- limits (MAX_LOCKS_PER_USER live locks, MAX_TICKETS_HELD_PER_USER tickets held, maxPerUser
-- tickets) in the same step. The same user
-- locking again gets their existing lock back, not extended.

local seat, user = A.seat, A.user
-- Someone else's lock is refused first, on two calls (in an on-sale most lock requests end so):
-- a lock key exists only for an unsold seat of this event (booking a seat deletes its lock).
local holder = redis.call('GET', K.seat_lock)
if holder and holder ~= user then
  -- Never say who holds it; when it frees up is fair to tell.
  return refuse('SEAT_LOCKED', { lockExpiresAt = redis.call('PEXPIRETIME', K.seat_lock) })
end
local section_id, position, refusal = unsold_seat(K.event, K.seat_sections, K.seat_positions, K.booked_seats, seat)
if refusal then
  return refusal
end
if holder then
  local expires_at = redis.call('PEXPIRETIME', K.seat_lock)
  return reply({ sectionId = section_id, expiresAt = expires_at, alreadyHeld = true })
end

local now = now_ms()
local not_admitted = refuse_unless_admitted(K.sections, K.admissions, user, A.admitted, now)
if not_admitted then
  return not_admitted
end
reclaim_expired_holds(K.holds, K.sections, K.user_held, K.version, K.changes, now)
clear_expired_locks(K.lock_index, K.held_seats, K.seat_positions, K.version, K.changes, now)
local max_locks = tonumber(A.max_locks)
if max_locks > 0 then
  local live = redis.call('ZCOUNT', K.user_locks, '(' .. now, '+inf')
  if live >= max_locks then
    return refuse('USER_LIMIT_REACHED', { limit = max_locks, current = live })
  end
end
local over = refuse_over_held(K.user_locks, K.user_held, user, 1, A.max_held, now)
  or refuse_over_user_limit(K.sections, K.user_tickets, K.user_locks, K.user_held,
    K.seat_sections, user, section_id, 1, now)
if over then
  return over
end

local expires_at = now + tonumber(A.ttl_ms)
take_seat_lock(K.seat_lock, K.lock_index, K.user_locks, K.held_seats, seat, position, user, expires_at)
-- Drop the user's index entries of locks that have expired (their keys are gone already).
redis.call('ZREMRANGEBYSCORE', K.user_locks, '-inf', now)
announce(K.version, K.changes, { section = section_id, status = 'locked', seats = seat, expiresAt = expires_at })
return reply({ sectionId = section_id, expiresAt = expires_at, alreadyHeld = false })
