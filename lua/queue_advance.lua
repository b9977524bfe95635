-- A replica's refresh of an event's waiting room (at most every QUEUE_REFRESH_MS per replica
-- and event, only while someone joins or asks there). A.counts: the shards' `next:pre` as the
-- replica just read them (csv; empty before it knows the shards), the earliest at A.read_at
-- (ms). In one step: a new round of places (at most one per A.round_ms), the shuffle once the
-- start has passed, turns released longer than A.abandon_ms ago and never taken lapse, and
-- the turns the pace and `wr:max` allow are released. The reply is what the replica answers
-- polls from until its next refresh: the rounds after its first A.have, the turns released,
-- the room and Redis's clock.

local room, now, off = room_now(K.event, K.sections)
if off then
  return off
end
local state = redis.call('HMGET', K.queue_state, 'shards', 'served', 'due', 'outstanding',
  'shuffled', 'seed', 'round_at')
local shards = tonumber(state[1])
if not shards then
  shards = tonumber(A.shards)
  redis.call('HSET', K.queue_state, 'shards', shards)
end
local served, due = tonumber(state[2]) or 0, tonumber(state[3]) or room.start
-- (A missing field is `false`; nil leaves it out of the reply.)
local outstanding, shuffled, seed = tonumber(state[4]) or 0, tonumber(state[5]), state[6] or nil
local round_at = tonumber(state[7]) or 0

local places, pre = {}, {}
for next_, pre_ in string.gmatch(A.counts, '(%d+):(%d+)') do
  places[#places + 1] = tonumber(next_)
  pre[#pre + 1] = tonumber(pre_)
end
local read = #places == shards
local round = last_round(K.queue_rounds, shards)

-- With `shuffle`, nobody is admitted before the order is drawn: at the first refresh whose
-- shard counts were read after the start (so each shard's `pre` is final), everyone who joined
-- before it becomes the first round, in an order the replicas compute from `seed`.
local waiting_for_shuffle = room.order == 'shuffle' and not shuffled
if waiting_for_shuffle and now >= room.start and read and tonumber(A.read_at) >= room.start then
  round = push_round(K.queue_rounds, round, pre)
  shuffled = 0
  for k = 1, shards do
    shuffled = shuffled + round[k]
  end
  seed = A.seed
  redis.call('HSET', K.queue_state, 'shuffled', shuffled, 'seed', seed)
  waiting_for_shuffle = false
end
if read and now >= round_at + tonumber(A.round_ms) then
  local grown
  round, grown = push_round(K.queue_rounds, round, places)
  if grown then
    redis.call('HSET', K.queue_state, 'round_at', now)
  end
end

if now >= room.start and not waiting_for_shuffle then
  if due < now - QUEUE_BACKLOG_MS then
    due = now - QUEUE_BACKLOG_MS
  end
  local interval
  if room.rate > 0 then
    interval = 60000 / room.rate
  end
  outstanding, due = lapse_turns(K.queue_releases, K.queue_batches, now, tonumber(A.abandon_ms),
    outstanding, due, interval)
  local budget = releasable(room, due, now, outstanding, K.admissions, K.checkouts)
  local stitched = 0
  for k = 1, shards do
    stitched = stitched + round[k]
  end
  budget = math.min(budget, stitched - served)
  if budget > 0 then
    redis.call('ZADD', K.queue_releases, served, served)
    redis.call('HSET', K.queue_batches, served, (served + budget) .. ':' .. now)
    served, outstanding = served + budget, outstanding + budget
    if interval then
      due = due + budget * interval
    end
  end
  redis.call('HSET', K.queue_state, 'served', served, 'outstanding', outstanding,
    'due', string.format('%.3f', due))
end

return reply({ served = served, shards = shards, shuffled = shuffled, seed = seed,
  rounds = redis.call('LRANGE', K.queue_rounds, tonumber(A.have), -1), rate = room.rate,
  start = room.start, order = room.order, now = now })
