//! Who is calling: what the HTTP edge learns of a client, which services key rate limits on
//! and which decides whether a response body may carry a token.

/// Who is calling, as far as the HTTP layer can tell.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    pub kind: ClientKind,
    /// The language its `Accept-Language` prefers among ours, if any.
    pub locale: Option<super::Locale>,
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
