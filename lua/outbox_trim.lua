-- While no webhook endpoint exists, nothing reads an event's outbox: its entries older than
-- A.keep_ms on Redis's clock are dropped, so it stays small. (An endpoint registered since is
-- younger than what is dropped: it would not have been sent any of it.)
if redis.call('EXISTS', K.outbox) == 0 then
  return reply_json('{}')
end
redis.call('XTRIM', K.outbox, 'MINID', now_ms() - tonumber(A.keep_ms))
return reply_json('{}')
