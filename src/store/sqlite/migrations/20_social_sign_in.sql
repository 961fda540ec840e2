-- Sign-in through OpenID Connect providers: the identities linked to accounts (an identity is
-- the issuer and subject, linked to one account; an account has one link per provider), and the
-- logins waiting for the provider to send the browser back (single use, short-lived). Only new
-- tables, each made if missing, so a database whose recorded version was wound back can run it
-- again.
CREATE TABLE IF NOT EXISTS social_links (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider  TEXT NOT NULL,
    issuer    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    email     TEXT,
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, provider),
    UNIQUE (issuer, subject)
);
CREATE TABLE IF NOT EXISTS social_logins (
    state_hash    TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    link_to       TEXT,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS social_logins_expiry ON social_logins(expires_at);
