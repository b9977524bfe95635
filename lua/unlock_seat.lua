-- Release a seat lock: only its owner may.
--
-- KEYS: 1 event document, 2 seat -> section hash, 3 seat -> position hash, 4 booked-seats bitmap,
--       5 lock index, 6 seat lock
-- ARGV: 1 seat id, 2 user id

local seat, user = ARGV[1], ARGV[2]
local section_id = redis.call('HGET', KEYS[2], seat)
if not section_id then
  return not_found(KEYS[1], 'SEAT_NOT_FOUND')
end
if seat_is_booked(KEYS[4], redis.call('HGET', KEYS[3], seat)) then
  return refuse('SEAT_BOOKED')
end
local holder = redis.call('GET', KEYS[6])
if not holder then
  return refuse('SEAT_NOT_LOCKED')
end
if holder ~= user then
  return refuse('LOCK_NOT_OWNED')
end

redis.call('DEL', KEYS[6])
redis.call('ZREM', KEYS[5], seat)
return reply({ sectionId = section_id })
