-- Delivery: up to A.max messages of one endpoint whose attempt is due on Redis's clock, each
-- leased to the caller for A.lease_ms (its due time moves that far ahead: if the caller dies
-- before it settles the attempt, another replica takes the message then). Also forgets
-- messages whose last attempt is older than A.retention_ms. Replies the endpoint, the messages,
-- and (for the metrics) how many are pending and how long the most overdue of them has been
-- due: {"endpoint": {...}, "messages": [...], "pending": n, "overdueMs": ms}.
local raw = redis.call('GET', K.endpoint)
if not raw then
  return reply_json('{"endpoint":null,"messages":[],"pending":0,"overdueMs":0}')
end
local now = now_ms()
local old = redis.call('ZRANGEBYSCORE', K.done, '-inf', now - tonumber(A.retention_ms), 'LIMIT', 0, 1000)
if #old > 0 then
  redis.call('HDEL', K.messages, unpack(old))
  redis.call('ZREM', K.done, unpack(old))
end
local endpoint = cjson.decode(raw)
local pending = redis.call('ZCARD', K.due)
local first = redis.call('ZRANGE', K.due, 0, 0, 'WITHSCORES')
local overdue = 0
if first[2] then
  overdue = math.max(0, now - tonumber(first[2]))
end
local figures = ',"pending":' .. pending .. ',"overdueMs":' .. string.format('%d', overdue) .. '}'
if endpoint.disabled then
  return reply_json('{"endpoint":' .. raw .. ',"messages":[]' .. figures)
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
return reply_json('{"endpoint":' .. raw .. ',"messages":[' .. table.concat(messages, ',') .. ']' .. figures)
