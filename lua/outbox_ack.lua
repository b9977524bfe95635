-- Fan-out done for some entries of an event's outbox: they are acknowledged in the group
-- `webhooks`, and everything before the oldest entry still pending in it is trimmed (every
-- entry before it has been read and fanned out).
redis.call('XACK', K.outbox, 'webhooks', unpack(cjson.decode(A.ids)))
local pending = redis.call('XPENDING', K.outbox, 'webhooks')
local oldest = pending[2]
if not oldest then
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', K.outbox)) do
    for i = 1, #group, 2 do
      if group[i] == 'name' and group[i + 1] == 'webhooks' then
        for j = 1, #group, 2 do
          if group[j] == 'last-delivered-id' then
            oldest = group[j + 1]
          end
        end
      end
    end
  end
end
if oldest then
  redis.call('XTRIM', K.outbox, 'MINID', oldest)
end
return reply_json('{}')
