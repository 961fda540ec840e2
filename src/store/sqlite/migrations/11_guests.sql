-- Guests: a guest row has an empty address and password and a placeholder e-mail key. `is_guest`
-- stays 1 after the guest signs up, until its address is confirmed: until then the guest sweep
-- (idle since `created_at`, the sign-up time, and its sessions) deletes it with its data, and the
-- purge of pending accounts leaves it alone.
ALTER TABLE users ADD COLUMN is_guest INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_guests ON users(created_at) WHERE is_guest = 1;
-- How each session signed in; sessions from before read as a password login.
ALTER TABLE sessions ADD COLUMN sign_in_method TEXT NOT NULL DEFAULT 'PASSWORD';
