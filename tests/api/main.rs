//! The black-box suite, one module per feature, built as one test binary: the app is started
//! in-process on port 0 (or as the real binary, for the command line and signals) and spoken to
//! over HTTP like a browser would. Helpers live in `common`.

#[macro_use]
mod common;

mod account;
mod architecture;
mod docs;
mod guests;
mod http;
mod live;
mod locale;
mod login;
mod mfa;
mod oidc_provider;
mod operations;
mod passkeys;
mod quizzes;
mod reviews;
mod sessions;
mod sign_in_link;
mod sign_up;
mod social;
mod store_contract;
