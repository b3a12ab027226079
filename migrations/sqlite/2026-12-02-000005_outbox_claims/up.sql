-- A message is claimed by one sender before it is sent: until this time no
-- other delivery run may take it, so two runs never both send it. A sender
-- that dies leaves the claim to run out; the message is then sent again.
ALTER TABLE outbound_emails ADD COLUMN claimed_until TIMESTAMP;
