-- Cancel a confirmed booking and give its quantity (and seats) back, exactly once.
--
-- KEYS: 1 booking document, 2 sections hash, 3 seat -> position hash, 4 booked-seats bitmap,
--       [5 idempotency record]
-- ARGV: 1 cancelledAt (ms), [2 idempotency fingerprint, 3 idempotency ttl (ms)]

local replay = idempotent_replay(KEYS[5], ARGV[2])
if replay then
  return replay
end

local stored = redis.call('GET', KEYS[1])
if not stored then
  return refuse('BOOKING_NOT_FOUND')
end
local booking = cjson.decode(stored)
if booking.status ~= 'confirmed' then
  return refuse('BOOKING_ALREADY_CANCELLED')
end

booking.status = 'cancelled'
booking.cancelledAt = tonumber(ARGV[1])
local document = cjson.encode(booking)
redis.call('SET', KEYS[1], document)
local remaining = redis.call('HINCRBY', KEYS[2], booking.sectionId .. ':remaining', booking.qty)
if booking.seats then
  for _, seat in ipairs(booking.seats) do
    redis.call('SETBIT', KEYS[4], redis.call('HGET', KEYS[3], seat), 0)
  end
end
return remember_reply(KEYS[5], ARGV[2], ARGV[3], booking_reply(document, remaining))
