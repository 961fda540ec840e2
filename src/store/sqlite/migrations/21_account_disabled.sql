-- Whether an operator disabled the account (0 or 1): the Rust step `add_user_disabled` that runs
-- after this file adds the column where it is missing (a wound-back database already has it).
SELECT 1;
