-- POST /book: take `qty` from a section if enough remain (and the user's limits allow), and
-- record the booking, in one step. On a reserved section the best available seats nobody
-- holds are taken (best_seats in lib.lua: side by side in one row if any row can, else the
-- fewest rows).

local replay = idempotent_replay(K.idempotency, A.fingerprint)
if replay then
  return replay
end

local section_id = A.section_id
local qty = tonumber(A.qty)
-- One read for what most requests are answered on: the section, the waiting room's switch and
-- the per-user limits. In an on-sale most requests are refusals; this keeps them at three
-- calls (this read, TIME, the hold index).
local section = redis.call('HMGET', K.sections,
  section_id .. ':remaining', section_id .. ':price', section_id .. ':first', section_id .. ':last',
  section_id .. ':rows', 'wr:enabled', '*:max', section_id .. ':max', '*:payment')
if not section[1] then
  return not_found(K.event, 'SECTION_NOT_FOUND')
end
local direct = refuse_unless_direct_booking(K.sections, K.organizers, A.user_id, A.role, section[9])
if direct then
  return direct
end
local now = now_ms()
local not_admitted, waiting_room = refuse_unless_admitted(K.sections, K.admissions, A.user_id,
  A.admitted, now, section[6])
if not_admitted then
  return not_admitted
end
local remaining, limits = tonumber(section[1]), { section[7], section[8] }
if reclaim_expired_holds(K.holds, K.sections, K.user_held, K.version, K.changes, now) > 0 then
  remaining = tonumber(redis.call('HGET', K.sections, section_id .. ':remaining'))
end
if remaining < qty then
  return refuse('INSUFFICIENT_INVENTORY', { requested = qty, remaining = remaining })
end
local over = refuse_over_user_limit(K.sections, K.user_tickets, K.user_locks, K.user_held,
  K.seat_sections, A.user_id, section_id, qty, now, limits)
if over then
  return over
end

local seats, positions = nil, {}
if section[3] then
  clear_expired_locks(K.lock_index, K.held_seats, K.seat_positions, K.version, K.changes, now)
  local chosen, free = best_seats(K.booked_seats, K.held_seats,
    tonumber(section[3]), tonumber(section[4]), section[5], qty, false)
  if not chosen then
    return refuse('INSUFFICIENT_INVENTORY', { requested = qty, remaining = remaining, unlocked = free })
  end
  seats, positions = {}, chosen
  for _, position in ipairs(chosen) do
    seats[#seats + 1] = redis.call('HGET', K.seats_at, position)
  end
end

local document = write_booking(K.booking, K.sections, {
  id = A.booking_id, eventId = A.event_id, sectionId = section_id, qty = qty, seats = seats,
  userId = A.user_id, unitPrice = tonumber(section[2]), status = 'confirmed',
  createdAt = tonumber(A.created_at),
})
if not document then
  return refuse('ID_COLLISION')
end
for _, position in ipairs(positions) do
  redis.call('SETBIT', K.booked_seats, position, 1)
end
remaining = redis.call('HINCRBY', K.sections, section_id .. ':remaining', -qty)
count_user_tickets(K.sections, K.user_tickets, A.user_id, section_id, qty, limits)
index_booking(K.bookings, K.user_bookings, A.booking_id)
if waiting_room then
  -- The admission is used: its slot goes to the next person in line.
  redis.call('ZREM', K.admissions, A.user_id)
end
announce(K.version, K.changes, { section = section_id, remaining = remaining, status = seats and 'booked', seats = seats })
emit(K.outbox, 'booking.created', document)
emit_if_sold_out(K.outbox, A.event_id, section_id, remaining)
return remember_reply(K.idempotency, A.fingerprint, A.ttl_ms, booking_reply(document, remaining))
