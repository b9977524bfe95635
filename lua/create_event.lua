-- Create an event and its inventory, unless an event with this id already exists (so a replica
-- that starts later never resets the demo event).
--
-- KEYS: 1 event document, 2 sections hash, 3 seat -> section hash, 4 seat -> position hash,
--       5 free seats (zset, score = position)
-- ARGV: 1 event document (JSON: id, name, createdAt, sections[{id, name, price, capacity, seats?}])

if redis.call('EXISTS', KEYS[1]) == 1 then
  return refuse('EVENT_EXISTS')
end

local event = cjson.decode(ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])

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
      redis.call('HSET', KEYS[3], seat, id)
      redis.call('HSET', KEYS[4], seat, position)
      redis.call('ZADD', KEYS[5], position, seat)
      position = position + 1
    end
  end
end

return reply({ created = true })
