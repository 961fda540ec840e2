-- Dead letters: mail that kept failing stays, out of the delivery queue.
ALTER TABLE outbox ADD COLUMN dead_at INTEGER;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(next_attempt_at, created_at) WHERE dead_at IS NULL;
