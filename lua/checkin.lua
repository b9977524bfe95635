-- Check-in (docs/tickets.md): the scans of A.scans (a JSON array; each a ticket whose code's
-- signature the replica verified: ticketId, bookingId, number, sectionId, seat, and the
-- scanner's scannerId, nonce, scannedAt), applied in order, each in this one step. Of all scans
-- of one ticket, by any scanner through any replica, exactly one is `ok`; the others are
-- `already_redeemed` with that first check-in. A ticket of a cancelled booking is `revoked`.
-- A scan whose scanner and nonce were seen before gets the answer it got then and changes
-- nothing (a scanner retrying after a timeout, a batch uploaded twice).
-- Replies the answers, one per scan, in order.
local now = now_ms()
local answers = {}
for i, scan in ipairs(cjson.decode(A.scans)) do
  local nonce = scan.scannerId .. '\n' .. scan.nonce
  local answer = redis.call('HGET', K.scans, nonce)
  if not answer then
    local ticket = { id = scan.ticketId, bookingId = scan.bookingId, sectionId = scan.sectionId,
      seat = scan.seat }
    local this = { scannerId = scan.scannerId, nonce = scan.nonce, at = now,
      scannedAt = scan.scannedAt }
    local result = { ticket = ticket }
    local raw = redis.call('GET', K.booking_prefix .. scan.bookingId)
    local booking = raw and cjson.decode(raw)
    if not booking or booking.eventId ~= A.event_id or scan.number > booking.qty then
      -- Signed by us, yet no such ticket here: a key shared with another deployment.
      result.result = 'invalid'
      result.reason = 'no such ticket in this event'
    elseif booking.status ~= 'confirmed' then
      result.result = 'revoked'
      result.revokedAt = booking.cancelledAt
    else
      local first = redis.call('HGET', K.checkins, scan.ticketId)
      if first then
        result.result = 'already_redeemed'
        result.firstCheckin = cjson.decode(first)
      else
        result.result = 'ok'
        result.firstCheckin = this
        redis.call('HSET', K.checkins, scan.ticketId, cjson.encode(this))
        redis.call('HINCRBY', K.checkin_counts, scan.sectionId, 1)
        emit(K.outbox, 'checkin.redeemed', cjson.encode({ ticket = ticket, eventId = A.event_id,
          userId = booking.userId, checkin = this }))
      end
    end
    result.scan = this
    answer = cjson.encode(result)
    redis.call('HSET', K.scans, nonce, answer)
  end
  answers[i] = answer
end
return reply_json('[' .. table.concat(answers, ',') .. ']')
