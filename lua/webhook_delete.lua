-- DELETE /webhooks/{id}: the endpoint and every message kept for it; by its creator or an admin.
local endpoint, refused = managed_endpoint(K.endpoint, A.actor, A.role)
if refused then
  return refused
end
redis.call('DEL', K.endpoint, K.messages, K.due, K.done)
return reply(endpoint)
