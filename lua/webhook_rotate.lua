-- POST /webhooks/{id}/rotate-secret: a new secret signs from now on; the one it replaces signs
-- beside it for A.overlap_ms more (several signatures per message, as Standard Webhooks
-- allows), secrets already rotated out keep their end.
local endpoint, refused = managed_endpoint(K.endpoint, A.actor, A.role)
if refused then
  return refused
end
local now = now_ms()
local secrets = { { secret = A.secret } }
for _, old in ipairs(endpoint.secrets) do
  if not old.expiresAt then
    old.expiresAt = now + tonumber(A.overlap_ms)
  end
  if old.expiresAt > now then
    secrets[#secrets + 1] = old
  end
end
endpoint.secrets = secrets
local document = cjson.encode(endpoint)
redis.call('SET', K.endpoint, document)
return reply_json(document)
