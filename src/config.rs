//! How configuration is read, in one place: the parsers every subsystem's settings use
//! ([`parse`]: durations, counts, secrets, "empty means unset", defaults from clap) and the
//! configuration reference written from the clap definitions ([`reference`]). Which settings
//! exist is each subsystem's business (its own `…Settings` struct beside its code), and they are
//! gathered into one `serve` command by [`crate::Settings`]; this module names no other part of
//! the crate, so every part may use it.

pub mod parse;
pub mod reference;

/// Secrets in settings: `Debug` redacts them and they are wiped from memory when dropped.
pub use secrecy::{ExposeSecret, SecretString};
