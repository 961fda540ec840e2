-- When each session last proved who it is (its login, or a later reauthentication). Sessions
-- from before count as long ago: they reauthenticate before changing a sign-in factor.
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER NOT NULL DEFAULT 0;
