-- REDIS_MIN_REPLICAS_ACK: run on a connection of its own, followed by WAIT on that connection,
-- after a booking was written (or replayed) on the shared connection. WAIT counts the
-- replicas that have this connection's writes; a replica that has this later write in the
-- primary's replication stream has the booking too, which came earlier in the same stream.
-- If the booking is not here (a failover promoted a replica that never received it), say so
-- instead of acknowledging it.

if redis.call('EXISTS', K.booking) == 0 then
  return refuse('BOOKING_NOT_FOUND')
end
redis.call('INCR', K.counter)
return reply({})
