-- POST /webhooks: a new endpoint, written only where none is (the id is new).
if not redis.call('SET', K.endpoint, A.document, 'NX') then
  return refuse('ID_COLLISION')
end
return reply_json(A.document)
