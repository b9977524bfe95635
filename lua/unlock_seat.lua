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

drop_seat_lock(K.seat_lock, K.lock_index, K.user_locks, K.held_seats, seat, position)
announce(K.version, K.changes, { section = section_id, status = 'available', seats = seat })
return reply({ sectionId = section_id })
