-- Release a seat lock: only its owner may.

local section_id, position, refusal = held_seat(K.event, K.seat_sections, K.seat_positions,
  K.booked_seats, K.seat_lock, A.seat, A.user)
if refusal then
  return refusal
end

drop_seat_lock(K.seat_lock, K.lock_index, K.user_locks, K.held_seats, A.seat, position)
announce(K.version, K.changes, { section = section_id, status = 'available', seats = A.seat })
return reply({ sectionId = section_id })
