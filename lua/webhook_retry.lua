-- POST /webhooks/{id}/messages/{messageId}/retry: the message is pending again and due now
-- (its attempts so far are kept; the schedule goes on from them). An endpoint disabled is
-- enabled again by it: whoever asks means the endpoint is back.
local endpoint, refused = managed_endpoint(K.endpoint, A.actor, A.role)
if refused then
  return refused
end
local raw = redis.call('HGET', K.messages, A.message_id)
if not raw then
  return refuse('MESSAGE_NOT_FOUND')
end
local message = cjson.decode(raw)
local now = now_ms()
message.status = 'pending'
message.nextAttemptAt = now
redis.call('ZADD', K.due, now, A.message_id)
redis.call('ZREM', K.done, A.message_id)
local document = cjson.encode(message)
redis.call('HSET', K.messages, A.message_id, document)
if endpoint.disabled then
  endpoint.disabled = nil
  endpoint.failingSince = nil
  redis.call('SET', K.endpoint, cjson.encode(endpoint))
end
return reply_json(document)
