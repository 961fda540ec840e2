//! Accounts, passwords, tokens, e-mail links and login sessions. No GraphQL types here: the
//! resolvers call [`AuthService`] and translate its results.

pub mod breached;
mod guests;
mod link_mailer;
pub mod links;
mod live_sessions;
pub mod mfa;
pub mod passkeys;
pub mod password;
mod service;
mod settings;
pub mod throttle;
pub mod tokens;
pub mod validate;

pub use service::{AuthService, Housekeeping, LoginOutcome, SignUp};
pub use settings::{AuthSettings, MIN_JWT_SECRET_BYTES};

/// SHA-256 of `data` in lower-case hex: how keys, tokens and codes are named or stored
/// without being revealed.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who is calling, as far as the HTTP layer can tell.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    pub kind: ClientKind,
}

/// Browsers keep the access token in the `HttpOnly` cookie alone: a token in a response body
/// would let one injected script read it and carry it off. Native clients (no cookie jar of a
/// browser, no `Origin`) get it in the body too, to send as `Authorization: Bearer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientKind {
    /// The safe guess when nothing says otherwise.
    #[default]
    Browser,
    Native,
}

impl ClientKind {
    /// What a response body may carry of a token just issued.
    pub fn token_in_body(self, token: String) -> Option<String> {
        (self == ClientKind::Native).then_some(token)
    }
}

impl ClientInfo {
    /// The rate-limit key for the client; clients without an address share one.
    pub fn key(&self) -> String {
        self.ip
            .map_or_else(|| "unknown".into(), |ip| ip.to_string())
    }
}
pub use tokens::{Claims, IssuedToken, TokenError};
