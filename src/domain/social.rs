//! Sign-in through an OpenID Connect provider: the identities linked to accounts, and the
//! logins waiting for the provider to send the browser back.

use chrono::{DateTime, Utc};

use super::UserId;

/// An account's link to one provider's identity. The identity is the issuer and the subject
/// the provider gave, never the e-mail address it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialLinkRecord {
    pub user_id: UserId,
    /// The configured name (`OIDC_PROVIDERS`), e.g. `google`.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// The address the provider reported when the link was made, if any.
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
}

/// A login or link started by `startSocialLogin` or `linkSocialAccount`, until the provider
/// sends the browser back: single use, and good until `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct SocialLoginRecord {
    /// SHA-256 of the `state` sent to the provider: the state itself is stored nowhere.
    pub state_hash: String,
    pub provider: String,
    /// The ID token must carry this `nonce`.
    pub nonce: String,
    /// The PKCE code verifier, sent only with the code exchange.
    pub pkce_verifier: String,
    /// Where the browser goes at the end (checked against the allowed origins when started).
    pub return_to: String,
    /// `Some` for `linkSocialAccount`: the account the identity is linked to.
    pub link_to: Option<UserId>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SocialLoginRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialLoginRecord")
            .field("provider", &self.provider)
            .field("link_to", &self.link_to)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
