-- Create an event and its inventory, unless an event with this id already exists (so a replica
-- that starts later never resets the demo event).
--
-- KEYS: 1 event document, 2 sections hash, 3 seat -> section hash, 4 seat -> position hash,
--       5 position -> seat hash, 6 booked-seats bitmap
-- ARGV: 1 event document (JSON: id, name, createdAt, sections[{id, name, price, capacity, seats?}])

if redis.call('EXISTS', KEYS[1]) == 1 then
  return refuse('EVENT_EXISTS')
end

local event = cjson.decode(ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])

-- Seat fields go in batches: one HSET per 500 seats rather than one per seat.
local by_seat, by_position, sections = {}, {}, {}
local function flush()
  if #by_seat > 0 then
    redis.call('HSET', KEYS[3], unpack(sections))
    redis.call('HSET', KEYS[4], unpack(by_seat))
    redis.call('HSET', KEYS[5], unpack(by_position))
    by_seat, by_position, sections = {}, {}, {}
  end
end

local position = 0
for _, section in ipairs(event.sections) do
  local id = section.id
  redis.call('HSET', KEYS[2],
    id .. ':price', section.price,
    id .. ':capacity', section.capacity,
    id .. ':remaining', section.capacity)
  if section.seats then
    redis.call('HSET', KEYS[2], id .. ':first', position, id .. ':last', position + #section.seats - 1)
    for _, seat in ipairs(section.seats) do
      sections[#sections + 1] = seat
      sections[#sections + 1] = id
      by_seat[#by_seat + 1] = seat
      by_seat[#by_seat + 1] = position
      by_position[#by_position + 1] = position
      by_position[#by_position + 1] = seat
      position = position + 1
      if #by_seat >= 1000 then
        flush()
      end
    end
  end
end
flush()
if position > 0 then
  -- Allocates the bitmap, all seats free: BITPOS on a missing key would ignore its range.
  redis.call('SETBIT', KEYS[6], position - 1, 0)
end

return reply({ created = true })
