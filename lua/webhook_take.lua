-- Delivery: up to A.max messages of one endpoint whose attempt is due on Redis's clock, each
-- leased to the caller for A.lease_ms (its due time moves that far ahead: if the caller dies
-- before it settles the attempt, another replica takes the message then). Also forgets
-- messages whose last attempt is older than A.retention_ms. Replies the endpoint and the
-- messages: {"endpoint": {...}, "messages": [...]}.
local raw = redis.call('GET', K.endpoint)
if not raw then
  return reply_json('{"endpoint":null,"messages":[]}')
end
local now = now_ms()
local old = redis.call('ZRANGEBYSCORE', K.done, '-inf', now - tonumber(A.retention_ms), 'LIMIT', 0, 1000)
if #old > 0 then
  redis.call('HDEL', K.messages, unpack(old))
  redis.call('ZREM', K.done, unpack(old))
end
local endpoint = cjson.decode(raw)
if endpoint.disabled then
  return reply_json('{"endpoint":' .. raw .. ',"messages":[]}')
end
local ids = redis.call('ZRANGEBYSCORE', K.due, '-inf', now, 'LIMIT', 0, tonumber(A.max))
local messages = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', K.due, 'XX', now + tonumber(A.lease_ms), id)
  local record = redis.call('HGET', K.messages, id)
  if record then
    messages[#messages + 1] = record
  else
    redis.call('ZREM', K.due, id)
  end
end
return reply_json('{"endpoint":' .. raw .. ',"messages":[' .. table.concat(messages, ',') .. ']}')
