//! The black-box suite, one module per capability, built as one test binary: the app is started
//! in-process on port 0 (or as the real binary, for the command line and signals) and spoken to
//! over HTTP like a browser would. Helpers live in `common`.

#[macro_use]
mod common;

mod architecture;
mod audit;
mod auth;
mod breached;
mod claims;
mod cli;
mod docs;
mod exposure;
mod faults;
mod front_door;
mod guests;
mod hardening;
mod http;
mod live;
mod mail_outbox;
mod mfa;
mod nodes;
mod passkeys;
mod quiz;
mod quiz_llm;
mod schema;
mod security;
mod signup_attacks;
mod stepup;
mod store_contract;
mod subscriptions;
mod telemetry;
mod trusted_documents;
