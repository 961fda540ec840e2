-- The persistent e-mail outbox.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    body            TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox(next_attempt_at, created_at);
