-- Fan-out: entries of an event's outbox for the caller (consumer A.consumer of the group
-- `webhooks`, made on first use from the start of the stream; an event without an outbox
-- yet gets none made): first those another replica
-- read and did not acknowledge within A.claim_idle_ms (it died mid-fan-out), else new ones.
-- Replies [{"id", "type", "data"}]; an entry trimmed meanwhile comes without type (acknowledge
-- it and go on).
if redis.call('EXISTS', K.outbox) == 0 then
  return reply_json('[]')
end
redis.pcall('XGROUP', 'CREATE', K.outbox, 'webhooks', '0')
local entries = redis.call('XAUTOCLAIM', K.outbox, 'webhooks', A.consumer, A.claim_idle_ms, '0-0',
  'COUNT', A.count)[2]
if #entries == 0 then
  local read = redis.call('XREADGROUP', 'GROUP', 'webhooks', A.consumer, 'COUNT', A.count,
    'STREAMS', K.outbox, '>')
  entries = read and read[1] and read[1][2] or {}
end
local out = {}
for _, entry in ipairs(entries) do
  local item = { id = entry[1] }
  local fields = entry[2]
  if fields then
    for i = 1, #fields, 2 do
      item[fields[i]] = fields[i + 1]
    end
  end
  out[#out + 1] = item
end
if #out == 0 then
  return reply_json('[]')
end
return reply(out)
