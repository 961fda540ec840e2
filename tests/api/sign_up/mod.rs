//! Sign-up under attack: bulk and scripted sign-ups, confusable names, breached passwords.
//! Sign-up's own path (validation, conflicts, the e-mail link) is in `sessions::auth`.

mod attacks;
mod breached_passwords;
