-- DELETE /webhooks/{id}: the endpoint and every message kept for it; by its creator or an admin.
local endpoint, missing = stored_document(K.endpoint, 'WEBHOOK_NOT_FOUND')
if missing then
  return missing
end
if not may_manage_endpoint(endpoint, A.actor, A.role) then
  return refuse('WEBHOOK_NOT_FOUND')
end
redis.call('DEL', K.endpoint, K.messages, K.due, K.done)
return reply(endpoint)
