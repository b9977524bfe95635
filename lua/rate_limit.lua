-- A write that has no other script in the caller's own slot to count it (locks, unlocks,
-- cancels, creating events; and every write, per client address, when RATE_LIMIT_PER_IP is
-- set): counts it against its bucket, or refuses with RATE_LIMITED.

local limited = refuse_over_rate(K.bucket, A.rate, A.burst)
if limited then
  return limited
end
return reply({})
