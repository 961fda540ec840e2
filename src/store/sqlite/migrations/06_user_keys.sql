-- Usernames are unique by their look-alike skeleton and addresses by their canonical form: the
-- keys are recomputed by the Rust step `renormalize_users` that runs after this file. Pending
-- accounts are purged by age.
CREATE INDEX users_pending ON users(is_active, created_at);
