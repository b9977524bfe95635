-- POST /book: take `qty` from a section if enough remain, and record the booking, in one step.
-- On a reserved section the first `qty` free seats that nobody holds a lock on are taken.
--
-- KEYS: 1 event document, 2 sections hash, 3 booked-seats bitmap, 4 position -> seat hash,
--       5 lock index, 6 booking document, 7 event bookings index, 8 user bookings index,
--       [9 idempotency record]
-- ARGV: 1 booking id, 2 event id, 3 section id, 4 qty, 5 user id, 6 createdAt (ms),
--       [7 idempotency fingerprint, 8 idempotency ttl (ms)]

local replay = idempotent_replay(KEYS[9], ARGV[7])
if replay then
  return replay
end

local section_id = ARGV[3]
local qty = tonumber(ARGV[4])
local section = redis.call('HMGET', KEYS[2],
  section_id .. ':remaining', section_id .. ':price', section_id .. ':first', section_id .. ':last')
if not section[1] then
  return not_found(KEYS[1], 'SECTION_NOT_FOUND')
end
local remaining = tonumber(section[1])
if remaining < qty then
  return refuse('INSUFFICIENT_INVENTORY', { requested = qty, remaining = remaining })
end

local seats, positions = nil, {}
if section[3] then
  -- Reserved seating: the first free seats of the section, in order, that nobody holds.
  local now = now_ms()
  local from, last = tonumber(section[3]), tonumber(section[4])
  seats = {}
  while #seats < qty and from <= last do
    local position = redis.call('BITPOS', KEYS[3], 0, from, last, 'BIT')
    if position < 0 then
      break
    end
    local seat = redis.call('HGET', KEYS[4], position)
    if not seat_is_locked(KEYS[5], seat, now) then
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
  id = ARGV[1], eventId = ARGV[2], sectionId = section_id, qty = qty, seats = seats,
  userId = ARGV[5], unitPrice = tonumber(section[2]), status = 'confirmed',
  createdAt = tonumber(ARGV[6]),
})
if not redis.call('SET', KEYS[6], document, 'NX') then
  return refuse('ID_COLLISION')
end
for _, position in ipairs(positions) do
  redis.call('SETBIT', KEYS[3], position, 1)
end
remaining = redis.call('HINCRBY', KEYS[2], section_id .. ':remaining', -qty)
index_booking(KEYS[7], KEYS[8], ARGV[1])
return remember_reply(KEYS[9], ARGV[7], ARGV[8], booking_reply(document, remaining))
