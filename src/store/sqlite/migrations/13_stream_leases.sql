-- Leases on open streams (sockets, multipart responses): one row per stream, renewed while it
-- lives, so a per-user cap holds across processes and a dead process's rows lapse.
CREATE TABLE stream_leases (
    lease      TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stream_leases_by_user ON stream_leases(user_id, expires_at);
CREATE INDEX stream_leases_expiry ON stream_leases(expires_at);
