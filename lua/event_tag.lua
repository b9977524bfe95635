-- The ETag of GET /events/{eventId} and of its seat map, read only: the event's version (bumped
-- by every script that changes what they show), and how many lock and general admission hold
-- entries have expired on Redis's clock without a script clearing them yet (an expiry changes
-- what the reads show without any write).

if redis.call('EXISTS', K.event) == 0 then
  return refuse('EVENT_NOT_FOUND')
end
local now = now_ms()
local version = redis.call('GET', K.version) or '0'
local locks = redis.call('ZCOUNT', K.lock_index, '-inf', now)
local holds = redis.call('ZCOUNT', K.holds, '-inf', now)
return reply({ tag = '"' .. version .. '-' .. locks .. '-' .. holds .. '"' })
