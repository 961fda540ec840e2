-- Passkeys: WebAuthn credentials per user (a credential id belongs to one user only), and the
-- registrations and logins waiting for an authenticator's answer (single use, short-lived).
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    sign_count    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_by_user ON passkeys(user_id, created_at);
CREATE TABLE passkey_challenges (
    id         TEXT PRIMARY KEY,
    ceremony   TEXT NOT NULL,
    user_id    TEXT,
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX passkey_challenges_expiry ON passkey_challenges(expires_at);
