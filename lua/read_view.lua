-- A replica's read view of an event starts here (src/views.rs): everything GET /events/{id}
-- and its seat map are made of, as of one version, reading only: the event document (empty
-- when A.with_document is '0'), the version, the sections hash, the general admission hold
-- index, the booked-seats bitmap, the lock index and Redis's clock. The view then follows the
-- change stream from that version.
-- Replies {'ok', document, version, sections, holds, booked, locks, now}.

if redis.call('EXISTS', K.event) == 0 then
  return refuse('EVENT_NOT_FOUND')
end
local document = A.with_document == '1' and redis.call('GET', K.event) or ''
return { 'ok', document, tonumber(redis.call('GET', K.version) or '0'),
  redis.call('HGETALL', K.sections), redis.call('ZRANGE', K.holds, 0, -1, 'WITHSCORES'),
  redis.call('GET', K.booked_seats) or '', redis.call('ZRANGE', K.lock_index, 0, -1, 'WITHSCORES'),
  now_ms() }
