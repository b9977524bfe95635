-- Turn a live seat lock into a booking: only the lock's owner, only while the lock lives.
--
-- KEYS: 1 event document, 2 seat -> section hash, 3 seat -> position hash, 4 booked-seats bitmap,
--       5 lock index, 6 seat lock, 7 sections hash, 8 booking document, 9 event bookings index,
--       10 user bookings index, [11 idempotency record]
-- ARGV: 1 seat id, 2 user id, 3 booking id, 4 event id, 5 createdAt (ms),
--       [6 idempotency fingerprint, 7 idempotency ttl (ms)]

local replay = idempotent_replay(KEYS[11], ARGV[6])
if replay then
  return replay
end

local seat, user = ARGV[1], ARGV[2]
local section_id, position, refusal = seat_held_by(seat, user)
if refusal then
  return refusal
end

-- The document goes first, and only where none is: an id collision refuses before any write.
local document = cjson.encode({
  id = ARGV[3], eventId = ARGV[4], sectionId = section_id, qty = 1, seats = { seat },
  userId = user, unitPrice = tonumber(redis.call('HGET', KEYS[7], section_id .. ':price')),
  status = 'confirmed', createdAt = tonumber(ARGV[5]),
})
if not redis.call('SET', KEYS[8], document, 'NX') then
  return refuse('ID_COLLISION')
end
redis.call('SETBIT', KEYS[4], position, 1)
redis.call('DEL', KEYS[6])
redis.call('ZREM', KEYS[5], seat)
local remaining = redis.call('HINCRBY', KEYS[7], section_id .. ':remaining', -1)
index_booking(KEYS[9], KEYS[10], ARGV[3])
return remember_reply(KEYS[11], ARGV[6], ARGV[7], booking_reply(document, remaining))
