-- Create an event and its inventory, unless an event with this id already exists (so a replica
-- that starts later never resets the demo event).
--
-- A.document: the event (JSON: id, name, createdAt, maxPerUser?, sections[{id, name, price,
-- capacity, seats?, rows?, maxPerUser?}]).

if redis.call('EXISTS', K.event) == 1 then
  return refuse('EVENT_EXISTS')
end

local event = cjson.decode(A.document)
redis.call('SET', K.event, A.document)
redis.call('SET', K.summary, A.summary)
if A.creator ~= '' then
  -- Tenancy (see may_manage in lib.lua): the creator manages the event.
  redis.call('SADD', K.organizers, A.creator)
end
if event.maxPerUser and event.maxPerUser ~= cjson.null then
  redis.call('HSET', K.sections, '*:max', event.maxPerUser)
end
-- Payment terms (docs/orders.md), read by the booking and order scripts.
redis.call('HSET', K.sections, '*:payment', event.payment, '*:currency', event.currency,
  '*:fee_pct', event.cancellationFeePercent)
if event.cancellableUntil and event.cancellableUntil ~= cjson.null then
  redis.call('HSET', K.sections, '*:cancel_until', string.format('%d', event.cancellableUntil))
end
local room = event.waitingRoom
if room and room ~= cjson.null then
  -- The same fields as lua/queue_configure.lua writes (see lib.lua, waiting rooms).
  redis.call('HSET', K.sections, 'wr:enabled', room.enabled and '1' or '0', 'wr:rate', room.rate,
    'wr:max', room.max, 'wr:ttl', string.format('%d', room.ttlMs), 'wr:order', room.order,
    'wr:start', string.format('%d', room.startMs))
end

-- Seat fields go in batches: one HSET per 500 seats rather than one per seat.
local by_seat, by_position, sections = {}, {}, {}
local function flush()
  if #by_seat > 0 then
    redis.call('HSET', K.seat_sections, unpack(sections))
    redis.call('HSET', K.seat_positions, unpack(by_seat))
    redis.call('HSET', K.seats_at, unpack(by_position))
    by_seat, by_position, sections = {}, {}, {}
  end
end

local position = 0
for _, section in ipairs(event.sections) do
  local id = section.id
  redis.call('HSET', K.sections,
    id .. ':price', section.price,
    id .. ':capacity', section.capacity,
    id .. ':remaining', section.capacity)
  if section.maxPerUser and section.maxPerUser ~= cjson.null then
    redis.call('HSET', K.sections, id .. ':max', section.maxPerUser)
  end
  if section.seats and section.seats ~= cjson.null then
    -- Rows (their seat counts, the best first) for best available; a list of seats is one row.
    local rows = {}
    if section.rows and section.rows ~= cjson.null then
      for _, row in ipairs(section.rows) do
        rows[#rows + 1] = row.count
      end
    else
      rows[1] = #section.seats
    end
    redis.call('HSET', K.sections, id .. ':first', position, id .. ':last', position + #section.seats - 1,
      id .. ':rows', table.concat(rows, ','))
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
  redis.call('SETBIT', K.booked_seats, position - 1, 0)
end

return reply({ created = true })
