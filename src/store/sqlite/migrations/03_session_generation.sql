-- Refresh-reuse detection: each refresh advances the session's generation.
ALTER TABLE sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
