//! Stateless, single-use links in the manner of Django's default token generator: an HMAC over
//! the user id, the part of the user's state the link changes, and a timestamp. Once the state
//! changes (the account is activated) the link stops verifying, so nothing needs storing.
//! Sign-in codes, which are stored, are kept as MACs under a key derived the same way.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::domain::{UserRecord, sha256_hex};

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
            // A new password (hash) kills every reset link issued before it, and so does a new
            // address: a link mailed to the one the account left no longer resets it.
            LinkPurpose::ResetPassword => {
                format!("{}:{}:{}", user.is_active, email_norm, password_hash)
            }
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

    /// A MAC of `parts` under a key of its own per `label`, derived from `JWT_SECRET`, so one
    /// kind of link (or code) can never be replayed as another or as a JWT signature.
    fn mac_of(&self, label: &str, parts: &[&str]) -> HmacSha256 {
        let mut kdf = HmacSha256::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC accepts any key length");
        kdf.update(label.as_bytes());
        let key = kdf.finalize().into_bytes();
        let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC accepts any key length");
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    fn mac(&self, purpose: LinkPurpose, user: &UserRecord, ts: i64) -> HmacSha256 {
        self.mac_of(
            purpose.label(),
            &[user.id.as_str(), &purpose.state(user), &ts.to_string()],
        )
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

    /// How a sign-in code is stored: a MAC bound to its request (the address and the hash of
    /// the link mailed with it), so that a stolen store does not give the code away to a
    /// million tries, and a code never works for another request.
    pub fn sign_in_code_tag(&self, email_norm: &str, token_hash: &str, code: &str) -> String {
        let tag = self
            .mac_of(SIGN_IN_CODE_LABEL, &[email_norm, token_hash, code])
            .finalize()
            .into_bytes();
        URL_SAFE_NO_PAD.encode(tag)
    }

    /// Whether `code` (six digits; spaces ignored) is the one `tag` was made for.
    pub fn check_sign_in_code(
        &self,
        email_norm: &str,
        token_hash: &str,
        code: &str,
        tag: &str,
    ) -> bool {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != SIGN_IN_CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        // Constant-time comparison.
        self.mac_of(SIGN_IN_CODE_LABEL, &[email_norm, token_hash, &code])
            .verify_slice(&tag)
            .is_ok()
    }
}

const SIGN_IN_CODE_LABEL: &str = "quiz-llm/sign-in-code/v1";
/// How many digits a sign-in code has.
pub const SIGN_IN_CODE_DIGITS: usize = 6;

/// A single-use secret to mail or hand out (256 random bits, URL-safe); only its
/// [`token_hash`] is stored.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What a [`new_token`] is stored and looked up by: plenty of entropy, so a plain hash keeps it.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.trim().as_bytes())
}

/// A new sign-in code: six digits, any of the million equally likely.
pub fn new_sign_in_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
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
            disabled: false,
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
        let token = signer.make(LinkPurpose::ResetPassword, &u, now);
        u.credentials.as_mut().unwrap().email_norm = "new@example.com".into();
        assert!(
            !signer.check(LinkPurpose::ResetPassword, &u, &token, now),
            "a link mailed to the old address"
        );
    }

    #[test]
    fn sign_in_codes_match_their_own_request_only() {
        let signer = LinkSigner::new(&SecretString::from("k".repeat(32)));
        let code = new_sign_in_code();
        assert_eq!(code.len(), SIGN_IN_CODE_DIGITS);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let tag = signer.sign_in_code_tag("ada@example.com", "t1", &code);
        assert!(!tag.contains(&code), "the code is not stored in clear");
        assert!(signer.check_sign_in_code("ada@example.com", "t1", &code, &tag));
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(signer.check_sign_in_code("ada@example.com", "t1", &spaced, &tag));
        let other = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(!signer.check_sign_in_code("ada@example.com", "t1", &other, &tag));
        assert!(!signer.check_sign_in_code("ada@example.com", "t2", &code, &tag));
        assert!(!signer.check_sign_in_code("bob@example.com", "t1", &code, &tag));
        assert!(!signer.check_sign_in_code("ada@example.com", "t1", "12345", &tag));
        let other_key = LinkSigner::new(&SecretString::from("j".repeat(32)));
        assert!(!other_key.check_sign_in_code("ada@example.com", "t1", &code, &tag));
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
