-- GET /events/{eventId} in one call, reading only: the ETag (event_tag in lib.lua) and, unless
-- A.if_none_match names it, what the view is made of, all as of one instant: the event
-- document (empty when A.with_document is '0': the replica has it, it never changes), the
-- sections hash (counters), the general admission hold index (member, expiry) and Redis's
-- clock. Replies {'not_modified', tag} or {'ok', tag, event, sections, holds, now}.

local tag, now, done = read_tag(K.event, K.version, K.lock_index, K.holds, A.if_none_match)
if done then
  return done
end
local document = A.with_document == '1' and redis.call('GET', K.event) or ''
return { 'ok', tag, document, redis.call('HGETALL', K.sections),
  redis.call('ZRANGE', K.holds, 0, -1, 'WITHSCORES'), now }
