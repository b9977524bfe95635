-- Fan-out: outbox messages for one endpoint, in the endpoint's slot. A.messages is a JSON array
-- of [message id, created at (ms), the message record as JSON], in outbox order. Each is written
-- once (a second fan-out of the same outbox entry, by a replica that took it over, changes
-- nothing); none at all when the endpoint is gone or disabled, and none older than the endpoint.
-- Replies how many were queued.
local raw = redis.call('GET', K.endpoint)
if not raw then
  return reply_json('{"queued":0}')
end
local endpoint = cjson.decode(raw)
if endpoint.disabled then
  return reply_json('{"queued":0}')
end
local now = now_ms()
local queued = 0
for _, message in ipairs(cjson.decode(A.messages)) do
  if endpoint.createdAt <= message[2]
      and redis.call('HSETNX', K.messages, message[1], message[3]) == 1 then
    redis.call('ZADD', K.due, now, message[1])
    queued = queued + 1
  end
end
return reply_json('{"queued":' .. queued .. '}')
