-- Second factors: one row per user who ever started TOTP enrollment.
CREATE TABLE mfa (
    user_id              TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    totp                 TEXT,
    pending              TEXT,
    last_step            INTEGER NOT NULL DEFAULT 0,
    recovery_codes       TEXT NOT NULL DEFAULT '[]',
    challenge_hash       TEXT,
    challenge_expires_at INTEGER
) WITHOUT ROWID;
