-- Changes of e-mail address: one per account (`owner_id`), with the hashes of the link that
-- confirms the new address (NULL once used) and of the link that undoes the change. A new
-- table, made if missing, so a database whose recorded version was wound back can run it again.
CREATE TABLE IF NOT EXISTS email_changes (
    owner_id           TEXT PRIMARY KEY,
    old_email          TEXT NOT NULL,
    old_email_norm     TEXT NOT NULL,
    new_email          TEXT NOT NULL,
    new_email_norm     TEXT NOT NULL,
    confirm_token_hash TEXT UNIQUE,
    undo_token_hash    TEXT NOT NULL UNIQUE,
    created_at         INTEGER NOT NULL,
    confirm_expires_at INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    confirmed_at       INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS email_changes_expiry ON email_changes(expires_at);
