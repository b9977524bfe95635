-- POST /book: take `qty` from a section if enough remain (and the user's limits allow), and
-- record the booking, in one step. On a reserved section the first `qty` free seats that
-- nobody holds a lock on are taken.

local replay = idempotent_replay(K.idempotency, A.fingerprint)
if replay then
  return replay
end

local section_id = A.section_id
local qty = tonumber(A.qty)
local now = now_ms()
reclaim_expired_holds(K.holds, K.sections, K.user_held, now)
local section = redis.call('HMGET', K.sections,
  section_id .. ':remaining', section_id .. ':price', section_id .. ':first', section_id .. ':last')
if not section[1] then
  return not_found(K.event, 'SECTION_NOT_FOUND')
end
local remaining = tonumber(section[1])
if remaining < qty then
  return refuse('INSUFFICIENT_INVENTORY', { requested = qty, remaining = remaining })
end
local over = refuse_over_user_limit(K.sections, K.user_tickets, K.user_locks, K.user_held,
  K.seat_sections, A.user_id, section_id, qty, now)
if over then
  return over
end

local seats, positions = nil, {}
if section[3] then
  -- Reserved seating: the first free seats of the section, in order, that nobody holds.
  local from, last = tonumber(section[3]), tonumber(section[4])
  seats = {}
  while #seats < qty and from <= last do
    local position = redis.call('BITPOS', K.booked_seats, 0, from, last, 'BIT')
    if position < 0 then
      break
    end
    local seat = redis.call('HGET', K.seats_at, position)
    if not seat_is_locked(K.lock_index, seat, now) then
      seats[#seats + 1] = seat
      positions[#positions + 1] = position
    end
    from = position + 1
  end
  if #seats < qty then
    return refuse('INSUFFICIENT_INVENTORY', { requested = qty, remaining = remaining, unlocked = #seats })
  end
end

-- The document goes first, and only where none is: an id collision refuses before any write.
local document = cjson.encode({
  id = A.booking_id, eventId = A.event_id, sectionId = section_id, qty = qty, seats = seats,
  userId = A.user_id, unitPrice = tonumber(section[2]), status = 'confirmed',
  createdAt = tonumber(A.created_at),
})
if not redis.call('SET', K.booking, document, 'NX') then
  return refuse('ID_COLLISION')
end
for _, position in ipairs(positions) do
  redis.call('SETBIT', K.booked_seats, position, 1)
end
remaining = redis.call('HINCRBY', K.sections, section_id .. ':remaining', -qty)
count_user_tickets(K.user_tickets, A.user_id, section_id, qty)
index_booking(K.bookings, K.user_bookings, A.booking_id)
return remember_reply(K.idempotency, A.fingerprint, A.ttl_ms, booking_reply(document, remaining))
