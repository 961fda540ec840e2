//! Access and refresh JWTs. Verification pins HS256 and checks `iss`, `aud` and `typ`; expiry is
//! checked here rather than by the library so that callers can tell "expired but genuine"
//! (refresh, logout) from "forged".

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use quick_cache::sync::Cache;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::{RefreshToken, SessionId, UserId};

pub const ISSUER: &str = "quiz-llm";
pub const AUDIENCE: &str = "quiz-llm";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub sid: SessionId,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub typ: TokenType,
    /// The session generation an access token was issued for (see refresh-reuse detection).
    #[serde(default)]
    pub r#gen: i64,
    /// Only refresh tokens carry one, so each rotation yields a different token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Access tokens name their user as well, so `me { id username }` needs no store read. A
    /// username never changes while a session lasts: a guest's sign-up ends its sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl Claims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Malformed, forged, another key or algorithm, wrong issuer, audience or type.
    Invalid,
    /// Genuine, but past its `exp`; the claims are still trustworthy.
    Expired(Box<Claims>),
}

/// A freshly signed access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A verification key and the id tokens signed with it carry in their `kid` header.
struct VerifyingKey {
    kid: String,
    key: DecodingKey,
}

/// Names a key without revealing it: the start of its SHA-256.
fn key_id(secret: &SecretString) -> String {
    crate::domain::sha256_hex(secret.expose_secret().as_bytes())[..16].to_owned()
}

/// Access tokens signed or checked here, with their claims. Every request carries one, and
/// decoding and checking it again each time was a twentieth of a page read's CPU. Only
/// genuine tokens get in, and expiry and type are still checked on every use. (quick_cache:
/// a token is kept at every login and refresh, and its inserts cost a tenth of moka's.)
const VERIFIED_ACCESS_TOKENS: usize = 8192;

pub struct TokenKeys {
    kid: String,
    encoding: EncodingKey,
    /// The current key first, then the previous ones that still verify during a rotation.
    verifying: Vec<VerifyingKey>,
    validation: Validation,
    verified_access: Cache<String, Claims>,
}

impl TokenKeys {
    pub fn new(secret: &SecretString) -> Self {
        Self::with_previous(secret, &[])
    }

    /// `previous` keys verify tokens but never sign, so keys rotate without logging anyone out.
    pub fn with_previous(secret: &SecretString, previous: &[SecretString]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let verifying = std::iter::once(secret)
            .chain(previous)
            .map(|s| VerifyingKey {
                kid: key_id(s),
                key: DecodingKey::from_secret(s.expose_secret().as_bytes()),
            })
            .collect();
        TokenKeys {
            kid: key_id(secret),
            encoding: EncodingKey::from_secret(secret.expose_secret().as_bytes()),
            verifying,
            validation,
            verified_access: Cache::new(VERIFIED_ACCESS_TOKENS),
        }
    }

    fn sign(&self, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("HS256 signing with a byte key cannot fail")
    }

    /// Checks the signature with the key the `kid` names, or with each key when there is none.
    fn decode(&self, token: &str) -> Option<Claims> {
        let kid = jsonwebtoken::decode_header(token).ok()?.kid;
        self.verifying
            .iter()
            .filter(|k| kid.as_ref().is_none_or(|kid| kid == &k.kid))
            .find_map(|k| {
                jsonwebtoken::decode::<Claims>(token, &k.key, &self.validation)
                    .ok()
                    .map(|d| d.claims)
            })
    }

    pub fn issue_access(
        &self,
        user: &UserId,
        username: &str,
        session: &SessionId,
        generation: i64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> IssuedToken {
        let claims = Claims {
            sub: user.clone(),
            sid: session.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            typ: TokenType::Access,
            r#gen: generation,
            jti: None,
            username: Some(username.to_owned()),
        };
        let issued = IssuedToken {
            token: self.sign(&claims),
            expires_at: claims.expires_at(),
        };
        // The client sends it with its next request: known as genuine already.
        self.verified_access.insert(issued.token.clone(), claims);
        issued
    }

    pub fn issue_refresh(
        &self,
        user: &UserId,
        session: &SessionId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> RefreshToken {
        let claims = Claims {
            sub: user.clone(),
            sid: session.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            typ: TokenType::Refresh,
            r#gen: 0,
            jti: Some(uuid::Uuid::new_v4().simple().to_string()),
            username: None,
        };
        RefreshToken::new(self.sign(&claims))
    }

    fn verify(
        &self,
        token: &str,
        typ: TokenType,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        let claims = self.decode(token.trim()).ok_or(TokenError::Invalid)?;
        Self::check(claims, typ, now)
    }

    fn check(claims: Claims, typ: TokenType, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        if claims.typ != typ {
            return Err(TokenError::Invalid);
        }
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired(Box::new(claims)));
        }
        Ok(claims)
    }

    pub fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let token = token.trim();
        if let Some(claims) = self.verified_access.get(token) {
            return Self::check(claims, TokenType::Access, now);
        }
        let claims = self.decode(token).ok_or(TokenError::Invalid)?;
        if claims.typ == TokenType::Access {
            self.verified_access
                .insert(token.to_owned(), claims.clone());
        }
        Self::check(claims, TokenType::Access, now)
    }

    /// Checks a stored refresh token still belongs to this user and session and is unexpired.
    pub fn verify_refresh(
        &self,
        token: &RefreshToken,
        user: &UserId,
        session: &SessionId,
        now: DateTime<Utc>,
    ) -> bool {
        matches!(self.verify(token.expose(), TokenType::Refresh, now),
            Ok(c) if &c.sub == user && &c.sid == session)
    }
}

/// `chrono` from `std`, saturating instead of failing on absurd values.
pub fn chrono_duration(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&SecretString::from("0123456789abcdef0123456789abcdef"))
    }

    #[test]
    fn access_round_trip_and_expiry() {
        let k = keys();
        let (u, s, now) = (UserId::new_random(), SessionId::new_random(), Utc::now());
        let t = k.issue_access(&u, "alice", &s, 0, now, now + Duration::minutes(15));
        let c = k.verify_access(&t.token, now).unwrap();
        assert_eq!((c.sub, c.sid), (u.clone(), s.clone()));
        assert_eq!(c.username.as_deref(), Some("alice"));
        // Checked once already: the remembered claims still expire.
        assert_eq!(k.verify_access(&t.token, now).unwrap().sub, u);
        assert!(matches!(
            k.verify_access(&t.token, now + Duration::minutes(16)),
            Err(TokenError::Expired(_))
        ));
    }

    #[test]
    fn a_checked_token_vouches_for_no_other() {
        let k = keys();
        let (u, s, now) = (UserId::new_random(), SessionId::new_random(), Utc::now());
        let t = k.issue_access(&u, "alice", &s, 0, now, now + Duration::minutes(15));
        k.verify_access(&t.token, now).unwrap();
        let (signed, signature) = t.token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let forged = format!("{signed}.{flipped}{}", &signature[1..]);
        assert_eq!(k.verify_access(&forged, now), Err(TokenError::Invalid));
        let unsigned = format!("{signed}.");
        assert_eq!(k.verify_access(&unsigned, now), Err(TokenError::Invalid));
    }

    #[test]
    fn refresh_tokens_are_not_access_tokens() {
        let k = keys();
        let (u, s, now) = (UserId::new_random(), SessionId::new_random(), Utc::now());
        let r = k.issue_refresh(&u, &s, now, now + Duration::days(1));
        assert_eq!(k.verify_access(r.expose(), now), Err(TokenError::Invalid));
        assert!(k.verify_refresh(&r, &u, &s, now));
        assert!(!k.verify_refresh(&r, &u, &SessionId::new_random(), now));
    }

    #[test]
    fn previous_keys_still_verify_and_tokens_name_their_key() {
        let (u, s, now) = (UserId::new_random(), SessionId::new_random(), Utc::now());
        let old = keys().issue_access(&u, "alice", &s, 0, now, now + Duration::minutes(1));
        let rotated = TokenKeys::with_previous(
            &SecretString::from("the-new-secret-the-new-secret-xx"),
            &[SecretString::from("0123456789abcdef0123456789abcdef")],
        );
        assert!(rotated.verify_access(&old.token, now).is_ok());
        let new = rotated.issue_access(&u, "alice", &s, 0, now, now + Duration::minutes(1));
        let kid = jsonwebtoken::decode_header(&new.token)
            .unwrap()
            .kid
            .unwrap();
        assert_eq!(kid.len(), 16);
        assert_ne!(
            Some(kid),
            jsonwebtoken::decode_header(&old.token).unwrap().kid
        );
        // The old key alone does not accept tokens of the new one.
        assert_eq!(
            keys().verify_access(&new.token, now),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn other_keys_are_refused() {
        let (u, s, now) = (UserId::new_random(), SessionId::new_random(), Utc::now());
        let t = keys().issue_access(&u, "alice", &s, 0, now, now + Duration::minutes(1));
        let other = TokenKeys::new(&SecretString::from("another-secret-another-secret-xx"));
        assert_eq!(other.verify_access(&t.token, now), Err(TokenError::Invalid));
    }
}
