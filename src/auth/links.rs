//! Stateless, single-use links in the manner of Django's default token generator: an HMAC over
//! the user id, the part of the user's state the link changes, and a timestamp. Once the state
//! changes (the account is activated) the link stops verifying, so nothing needs storing.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::domain::UserRecord;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    VerifyEmail,
    ResetPassword,
}

impl LinkPurpose {
    fn label(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "quiz-llm/verify-email/v1",
            LinkPurpose::ResetPassword => "quiz-llm/reset-password/v1",
        }
    }

    pub fn max_age(self) -> Duration {
        match self {
            LinkPurpose::VerifyEmail => Duration::days(3),
            LinkPurpose::ResetPassword => Duration::hours(1),
        }
    }

    /// What using the link changes; the link dies with it.
    fn state(self, user: &UserRecord) -> String {
        // A guest has neither: no link is ever made for one, and none made for the account
        // before it signed up could verify after.
        let (email_norm, password_hash) = user.credentials.as_ref().map_or(("", ""), |c| {
            (c.email_norm.as_str(), c.password_hash.expose())
        });
        match self {
            // A pending account replaced by a new sign-up has another id and password: the
            // links sent for it die with it.
            LinkPurpose::VerifyEmail => {
                format!("{}:{}:{}", user.is_active, email_norm, password_hash)
            }
            // A new password (hash) kills every reset link issued before it.
            LinkPurpose::ResetPassword => format!("{}:{}", user.is_active, password_hash),
        }
    }
}

pub struct LinkSigner {
    secret: SecretString,
}

impl LinkSigner {
    pub fn new(secret: &SecretString) -> Self {
        LinkSigner {
            secret: secret.clone(),
        }
    }

    /// A key of its own per purpose, derived from `JWT_SECRET`, so one kind of link can never be
    /// replayed as another or as a JWT signature.
    fn mac(&self, purpose: LinkPurpose, user: &UserRecord, ts: i64) -> HmacSha256 {
        let mut kdf = HmacSha256::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC accepts any key length");
        kdf.update(purpose.label().as_bytes());
        let key = kdf.finalize().into_bytes();
        let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC accepts any key length");
        for part in [user.id.as_str(), &purpose.state(user), &ts.to_string()] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    /// `<timestamp>-<mac>`, URL-safe.
    pub fn make(&self, purpose: LinkPurpose, user: &UserRecord, now: DateTime<Utc>) -> String {
        let ts = now.timestamp();
        let tag = self.mac(purpose, user, ts).finalize().into_bytes();
        format!("{ts:x}-{}", URL_SAFE_NO_PAD.encode(tag))
    }

    pub fn check(
        &self,
        purpose: LinkPurpose,
        user: &UserRecord,
        token: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let Some((ts, tag)) = token.trim().split_once('-') else {
            return false;
        };
        let (Ok(ts), Ok(tag)) = (i64::from_str_radix(ts, 16), URL_SAFE_NO_PAD.decode(tag)) else {
            return false;
        };
        let Some(issued) = DateTime::from_timestamp(ts, 0) else {
            return false;
        };
        let fresh = issued <= now + Duration::minutes(1) && now - issued <= purpose.max_age();
        // Constant-time comparison.
        fresh && self.mac(purpose, user, ts).verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Credentials, EmailAddress, PasswordHash, UserId, Username};

    fn user(active: bool) -> UserRecord {
        UserRecord {
            id: UserId::new_random(),
            username: Username::parse("ada").unwrap(),
            username_norm: "ada".into(),
            credentials: Some(Credentials {
                email: EmailAddress::parse("ada@example.com").unwrap(),
                email_norm: "ada@example.com".into(),
                password_hash: PasswordHash::new("x".into()),
            }),
            is_active: active,
            created_at: Utc::now(),
            locale: Default::default(),
        }
    }

    fn set_password_hash(u: &mut UserRecord, hash: &str) {
        u.credentials.as_mut().unwrap().password_hash = PasswordHash::new(hash.into());
    }

    #[test]
    fn valid_until_used_or_old() {
        let signer = LinkSigner::new(&SecretString::from("k".repeat(32)));
        let now = Utc::now();
        let mut u = user(false);
        let token = signer.make(LinkPurpose::VerifyEmail, &u, now);
        assert!(signer.check(LinkPurpose::VerifyEmail, &u, &token, now));
        assert!(!signer.check(
            LinkPurpose::VerifyEmail,
            &u,
            &token,
            now + Duration::days(4)
        ));
        assert!(!signer.check(LinkPurpose::VerifyEmail, &u, "1-AAAA", now));
        u.is_active = true;
        assert!(!signer.check(LinkPurpose::VerifyEmail, &u, &token, now));
        u.is_active = false;
        set_password_hash(&mut u, "y");
        assert!(!signer.check(LinkPurpose::VerifyEmail, &u, &token, now));
    }

    #[test]
    fn reset_links_die_with_the_password_and_after_an_hour() {
        let signer = LinkSigner::new(&SecretString::from("k".repeat(32)));
        let now = Utc::now();
        let mut u = user(true);
        let token = signer.make(LinkPurpose::ResetPassword, &u, now);
        assert!(signer.check(LinkPurpose::ResetPassword, &u, &token, now));
        assert!(
            !signer.check(LinkPurpose::VerifyEmail, &u, &token, now),
            "purposes differ"
        );
        assert!(!signer.check(
            LinkPurpose::ResetPassword,
            &u,
            &token,
            now + Duration::minutes(61)
        ));
        set_password_hash(&mut u, "y");
        assert!(!signer.check(LinkPurpose::ResetPassword, &u, &token, now));
    }

    #[test]
    fn bound_to_the_user_and_key() {
        let signer = LinkSigner::new(&SecretString::from("k".repeat(32)));
        let now = Utc::now();
        let token = signer.make(LinkPurpose::VerifyEmail, &user(false), now);
        assert!(!signer.check(LinkPurpose::VerifyEmail, &user(false), &token, now));
        let u = user(false);
        let token = signer.make(LinkPurpose::VerifyEmail, &u, now);
        let other = LinkSigner::new(&SecretString::from("j".repeat(32)));
        assert!(!other.check(LinkPurpose::VerifyEmail, &u, &token, now));
    }
}
