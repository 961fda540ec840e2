-- Each user's language ("en", "ko"): the Rust step `add_user_locale` that runs after this file
-- adds the column where it is missing (a wound-back database already has it).
SELECT 1;
