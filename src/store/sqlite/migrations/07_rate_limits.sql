-- Deployment-wide rate limits: hits per hashed key and fixed window (slot number =
-- time / period). A check reads the current and the previous window.
CREATE TABLE rate_limits (
    key        TEXT    NOT NULL,
    slot       INTEGER NOT NULL,
    hits       INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key, slot)
) WITHOUT ROWID;
CREATE INDEX rate_limits_expiry ON rate_limits(expires_at);
