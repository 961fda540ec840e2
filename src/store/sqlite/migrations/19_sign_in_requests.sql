-- Sign-in by e-mail: one request per address waiting for its link or code (both stored as
-- hashes), short-lived. A new table, made if missing, so a database whose recorded version was
-- wound back can run it again.
CREATE TABLE IF NOT EXISTS sign_in_requests (
    email_norm TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    user_id    TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    code_hash  TEXT NOT NULL,
    return_to  TEXT,
    locale     TEXT NOT NULL,
    codes_left INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sign_in_requests_expiry ON sign_in_requests(expires_at);
