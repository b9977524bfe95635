-- Delivery: the outcome of one attempt. A.outcome is `delivered` (a 2xx), `gone` (410: the
-- endpoint is disabled) or `failed` (anything else: the next attempt is scheduled by
-- A.schedule, comma-separated delays in ms, after at least A.retry_after_ms; past the last
-- one the message has failed). An endpoint failing for A.disable_after_ms is disabled.
-- Nothing happens for a message that is no longer pending (settled by another replica).
-- Replies whether it settled the attempt, and the message's status after it (`pending`: a
-- retry is scheduled).
local raw = redis.call('HGET', K.messages, A.message_id)
if not raw then
  return reply_json('{"settled":false}')
end
local message = cjson.decode(raw)
if message.status ~= 'pending' then
  return reply_json('{"settled":false}')
end
local now = now_ms()
local attempt = { at = now }
if A.response_status ~= '' then
  attempt.responseStatus = tonumber(A.response_status)
end
if A.error ~= '' then
  attempt.error = A.error
end
message.attempts = message.attempts or {}
message.attempts[#message.attempts + 1] = attempt

local endpoint_raw = redis.call('GET', K.endpoint)
local endpoint = endpoint_raw and cjson.decode(endpoint_raw)
local function finish(status)
  message.status = status
  message.nextAttemptAt = nil
  redis.call('ZREM', K.due, A.message_id)
  redis.call('ZADD', K.done, now, A.message_id)
end

if A.outcome == 'delivered' then
  finish('delivered')
  if endpoint and endpoint.failingSince then
    endpoint.failingSince = nil
    redis.call('SET', K.endpoint, cjson.encode(endpoint))
  end
else
  local schedule = {}
  for delay in string.gmatch(A.schedule, '[^,]+') do
    schedule[#schedule + 1] = tonumber(delay)
  end
  local next_delay = schedule[#message.attempts + 1]
  if A.outcome == 'gone' or not next_delay then
    finish('failed')
  else
    local next_at = now + math.max(next_delay, tonumber(A.retry_after_ms))
    message.nextAttemptAt = next_at
    redis.call('ZADD', K.due, next_at, A.message_id)
  end
  if endpoint and not endpoint.disabled then
    endpoint.failingSince = endpoint.failingSince or now
    if A.outcome == 'gone' then
      endpoint.disabled = { at = now, reason = 'the endpoint answered 410 Gone' }
    elseif now - endpoint.failingSince >= tonumber(A.disable_after_ms) then
      endpoint.disabled = { at = now, reason = 'every attempt failed since ' .. endpoint.failingSince
        .. ' (ms), longer than WEBHOOK_DISABLE_AFTER_S' }
    end
    redis.call('SET', K.endpoint, cjson.encode(endpoint))
  end
end
redis.call('HSET', K.messages, A.message_id, cjson.encode(message))
return reply_json('{"settled":true,"status":"' .. message.status .. '"}')
