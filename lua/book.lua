-- POST /book: take `qty` from a section if enough remain, and record the booking, in one step.
-- On a reserved section the first `qty` free seats that nobody holds a lock on are taken.
--
-- KEYS: 1 event document, 2 sections hash, 3 free seats, 4 lock index, 5 booking document,
--       6 event bookings index, 7 user bookings index, [8 idempotency record]
-- ARGV: 1 booking id, 2 event id, 3 section id, 4 qty, 5 user id, 6 createdAt (ms),
--       [7 idempotency fingerprint, 8 idempotency ttl (ms)]

local replay = idempotent_replay(KEYS[8], ARGV[7])
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

local seats = nil
if section[3] then
  -- Reserved seating: walk the section's free seats in order, skipping held ones.
  local now = now_ms()
  seats = {}
  local offset = 0
  while #seats < qty do
    local batch = redis.call('ZRANGE', KEYS[3], section[3], section[4], 'BYSCORE', 'LIMIT', offset, 128)
    if #batch == 0 then
      break
    end
    for _, seat in ipairs(batch) do
      if not seat_is_locked(KEYS[4], seat, now) then
        seats[#seats + 1] = seat
        if #seats == qty then
          break
        end
      end
    end
    offset = offset + #batch
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
if not redis.call('SET', KEYS[5], document, 'NX') then
  return refuse('ID_COLLISION')
end
if seats then
  redis.call('ZREM', KEYS[3], unpack(seats))
end
remaining = redis.call('HINCRBY', KEYS[2], section_id .. ':remaining', -qty)
index_booking(KEYS[6], KEYS[7], ARGV[1])
return remember_reply(KEYS[8], ARGV[7], ARGV[8], booking_reply(document, remaining))
