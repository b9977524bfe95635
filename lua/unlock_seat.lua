-- Release a seat lock: only its owner may.
--
-- KEYS: 1 event document, 2 seat -> section hash, 3 seat -> position hash, 4 booked-seats bitmap,
--       5 lock index, 6 seat lock
-- ARGV: 1 seat id, 2 user id

local seat, user = ARGV[1], ARGV[2]
local section_id, _, refusal = seat_held_by(seat, user)
if refusal then
  return refusal
end

redis.call('DEL', KEYS[6])
redis.call('ZREM', KEYS[5], seat)
return reply({ sectionId = section_id })
