//! Accounts, passwords, tokens, e-mail links and login sessions. No GraphQL types here: the
//! resolvers call [`AuthService`] and translate its results.

pub mod admin;
pub mod breached;
mod erase;
mod export;
mod guests;
mod link_mailer;
pub mod links;
mod live_sessions;
pub mod mfa;
pub mod passkeys;
pub mod password;
mod service;
mod settings;
pub mod social;
pub mod tokens;
pub mod validate;

pub use service::{AuthService, Housekeeping, LinkSignIn, LoginOutcome, SignUp};
pub use settings::{AuthSettings, MIN_JWT_SECRET_BYTES};

pub use tokens::{Claims, IssuedToken, TokenError};
