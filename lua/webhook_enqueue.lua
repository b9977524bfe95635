-- Fan-out: one outbox message for one endpoint, in the endpoint's slot. Written once (a second
-- fan-out of the same outbox entry, by a replica that took it over, changes nothing); not at
-- all when the endpoint is gone, disabled, or younger than the message.
local raw = redis.call('GET', K.endpoint)
if not raw then
  return reply_json('{"queued":false}')
end
local endpoint = cjson.decode(raw)
if endpoint.disabled or endpoint.createdAt > tonumber(A.created_at) then
  return reply_json('{"queued":false}')
end
if redis.call('HSETNX', K.messages, A.message_id, A.record) == 0 then
  return reply_json('{"queued":false}')
end
redis.call('ZADD', K.due, now_ms(), A.message_id)
return reply_json('{"queued":true}')
