-- Usernames are unique by the Unicode confusables skeleton (UTS #39) with `w`/`vv` and `d`/`cl`
-- merged on top: the Rust step `renormalize_users` that runs after this file recomputes the
-- keys stored under the older rule.
SELECT 1;
