-- Release a seat lock: only its owner may.

local seat, user = A.seat, A.user
local section_id, position, refusal = unsold_seat(K.event, K.seat_sections, K.seat_positions, K.booked_seats, seat)
if refusal then
  return refusal
end
refusal = refuse_unless_holder(K.seat_lock, user)
if refusal then
  return refusal
end

redis.call('DEL', K.seat_lock)
redis.call('ZREM', K.lock_index, seat)
redis.call('ZREM', K.user_locks, seat)
redis.call('SETBIT', K.held_seats, position, 0)
announce(K.version, K.changes, { section = section_id, status = 'available', seats = seat })
return reply({ sectionId = section_id })
