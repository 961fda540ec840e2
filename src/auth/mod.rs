//! Accounts, passwords, tokens, e-mail links and login sessions. No GraphQL types here: the
//! resolvers call [`AuthService`] and translate its results.

pub mod links;
pub mod password;
mod service;
pub mod tokens;
pub mod validate;

pub use service::{AuthService, AuthSettings, LoginOutcome, SignUp};
pub use tokens::{Claims, IssuedToken, TokenError};
