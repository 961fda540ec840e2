//! The second factor: TOTP (RFC 6238: SHA-1, six digits, 30-second steps, one step either
//! side) with ten one-time recovery codes, and the second step of a login. TOTP secrets are
//! sealed (AES-256-GCM, key derived from the server secret with HKDF) before they are stored;
//! recovery codes are stored as SHA-256 hashes (50 random bits each, too many to guess).

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::{
    LoginOutcome,
    links::{new_token, token_hash},
    service::AuthService,
    tokens::{Claims, chrono_duration},
};
use crate::domain::{ClientInfo, MessageKey, sha256_hex};
use crate::ratelimit::Bucket;
use crate::{
    domain::UserRecord,
    domain::{
        AppError, AppResult, GUESTS_CANNOT, MfaChallenge, SealedSecret, SignInMethod, UserId,
    },
    mail::templates::SecurityNotice,
};

/// How long the token handed out with `MFA_REQUIRED` stays good.
const CHALLENGE_TTL: std::time::Duration = std::time::Duration::from_secs(5 * 60);
const STEP_SECS: i64 = 30;
const RECOVERY_CODES: usize = 10;
/// What authenticator apps show as the account's issuer.
const ISSUER: &str = "Quiz LLM";

/// What `startTotpEnrollment` hands out: the base32 secret and the URI for a QR code.
#[derive(Debug, Clone)]
pub struct TotpEnrollment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// Seals and opens TOTP secrets with keys derived from the current server secret and the
/// previous ones (so rotating `JWT_SECRET` keeps secrets readable).
pub(super) struct Sealer {
    keys: Vec<Aes256Gcm>,
}

impl Sealer {
    pub(super) fn new(current: &SecretString, previous: &[SecretString]) -> Self {
        let keys = std::iter::once(current)
            .chain(previous)
            .map(|secret| {
                let mut key = [0u8; 32];
                Hkdf::<Sha256>::new(Some(b"quiz-llm"), secret.expose_secret().as_bytes())
                    .expand(b"totp-secret-sealing-v1", &mut key)
                    .expect("32 bytes is a valid HKDF-SHA256 output length");
                Aes256Gcm::new(&key.into())
            })
            .collect();
        Sealer { keys }
    }

    fn seal(&self, secret: &[u8]) -> AppResult<SealedSecret> {
        let nonce: [u8; 12] = rand::random();
        let sealed = self.keys[0]
            .encrypt(&Nonce::from(nonce), secret)
            .map_err(|_| AppError::internal(anyhow::anyhow!("sealing a TOTP secret failed")))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(SealedSecret(format!(
            "v1:{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    fn open(&self, sealed: &SealedSecret) -> AppResult<Vec<u8>> {
        let unreadable = || {
            AppError::internal(anyhow::anyhow!(
                "a stored TOTP secret opens with no configured key (was JWT_SECRET changed \
                 without listing the old one in JWT_PREVIOUS_SECRETS?)"
            ))
        };
        let bytes = sealed
            .0
            .strip_prefix("v1:")
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > 12)
            .ok_or_else(unreadable)?;
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce = Nonce::from(<[u8; 12]>::try_from(nonce).map_err(|_| unreadable())?);
        self.keys
            .iter()
            .find_map(|key| key.decrypt(&nonce, ciphertext).ok())
            .ok_or_else(unreadable)
    }
}

fn totp(secret: Vec<u8>, account: &str) -> AppResult<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS as u64)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| AppError::internal(anyhow::anyhow!("TOTP setup: {e}")))
}

/// The time step (of `now`'s and those one either side) whose code `code` is, if any.
fn matching_step(totp: &Totp, code: &str, now_secs: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp.check(&code, u64::try_from(now_secs).ok()?)?;
    i64::try_from(step).ok()
}

/// Recovery codes as shown, `xxxxx-xxxxx` in lower-case base32.
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes: [u8; 7] = rand::random();
            let code = base32_lower(&bytes);
            format!("{}-{}", &code[..5], &code[5..10])
        })
        .collect()
}

fn base32_lower(bytes: &[u8]) -> String {
    Secret::from(bytes.to_vec()).to_base32().to_lowercase()
}

/// How a recovery code is stored and looked up: spelling-insensitive.
fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha256_hex(normal.as_bytes())
}

fn recovery_hashes(codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| recovery_hash(c)).collect()
}

impl AuthService {
    /// Hands out a fresh secret to put in an authenticator app; TOTP is on only once a code
    /// from it is confirmed. Like every change to a factor, needs a recent authentication.
    pub async fn start_totp_enrollment(&self, claims: &Claims) -> AppResult<TotpEnrollment> {
        let user = self.recently_authenticated(claims).await?;
        if self.store.find_mfa(&user.id).await?.enabled() {
            return Err(AppError::bad_input("totp", MessageKey::TotpAlreadyOn));
        }
        let secret: [u8; 20] = rand::random();
        let sealed = self.sealer.seal(&secret)?;
        let totp = totp(secret.to_vec(), user.username.as_str())?;
        let otpauth_uri = totp
            .to_url()
            .map_err(|e| AppError::internal(anyhow::anyhow!("otpauth URI: {e}")))?;
        self.store.set_pending_totp(&user.id, &sealed).await?;
        Ok(TotpEnrollment {
            secret: Secret::from(secret.to_vec()).to_base32(),
            otpauth_uri,
        })
    }

    /// Turns TOTP on with the pending secret when `code` is one of its codes; returns the
    /// recovery codes, shown this once.
    pub async fn confirm_totp_enrollment(
        &self,
        claims: &Claims,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<Vec<String>> {
        let user = self.recently_authenticated(claims).await?;
        self.count_code_attempt(&user.id, client).await?;
        let mfa = self.store.find_mfa(&user.id).await?;
        let enabled = mfa.enabled();
        let Some(pending) = mfa.pending.filter(|_| !enabled) else {
            return Err(AppError::bad_input("code", MessageKey::NoTotpEnrollment));
        };
        let totp = totp(self.sealer.open(&pending)?, user.username.as_str())?;
        let step = matching_step(&totp, code, self.clock.now().timestamp())
            .ok_or(AppError::InvalidMfaCode)?;
        let codes = new_recovery_codes();
        let hashes = recovery_hashes(&codes);
        if !self
            .store
            .enable_totp(&user.id, &pending, step, &hashes)
            .await?
        {
            return Err(AppError::InvalidMfaCode);
        }
        tracing::info!(target: "audit", event = "mfa_enabled", user_id = %user.id, client_ip = %client.key());
        self.notify(&user, SecurityNotice::TotpEnabled).await;
        Ok(codes)
    }

    /// Turns TOTP off, given a current code or a recovery code.
    pub async fn disable_totp(
        &self,
        claims: &Claims,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self.recently_authenticated(claims).await?;
        self.count_code_attempt(&user.id, client).await?;
        self.spend_code(&user, code).await?;
        self.store.disable_totp(&user.id).await?;
        tracing::info!(target: "audit", event = "mfa_disabled", user_id = %user.id, client_ip = %client.key());
        self.notify(&user, SecurityNotice::TotpDisabled).await;
        Ok(())
    }

    /// New recovery codes (the old ones stop working), given a current code or a recovery code.
    pub async fn regenerate_recovery_codes(
        &self,
        claims: &Claims,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<Vec<String>> {
        let user = self.recently_authenticated(claims).await?;
        self.count_code_attempt(&user.id, client).await?;
        self.spend_code(&user, code).await?;
        let codes = new_recovery_codes();
        let hashes = recovery_hashes(&codes);
        if !self.store.set_recovery_codes(&user.id, &hashes).await? {
            return Err(AppError::InvalidMfaCode);
        }
        tracing::info!(target: "audit", event = "recovery_codes_regenerated", user_id = %user.id, client_ip = %client.key());
        self.notify(&user, SecurityNotice::RecoveryCodesRegenerated)
            .await;
        Ok(codes)
    }

    pub async fn mfa_enabled(&self, user: &UserId) -> AppResult<bool> {
        Ok(self.store.find_mfa(user).await?.enabled())
    }

    /// After a right password: the error that asks for the second factor, when the account
    /// has one; `None` when it has none.
    pub(super) async fn second_factor_required(
        &self,
        user: &UserRecord,
    ) -> AppResult<Option<AppError>> {
        if !self.store.find_mfa(&user.id).await?.enabled() {
            return Ok(None);
        }
        let secret = new_token();
        let challenge = MfaChallenge {
            token_hash: token_hash(&secret),
            expires_at: self.clock.now() + chrono_duration(CHALLENGE_TTL),
        };
        self.store.set_mfa_challenge(&user.id, &challenge).await?;
        Ok(Some(AppError::MfaRequired {
            mfa_token: format!("{}.{secret}", user.id),
        }))
    }

    /// The second step of a login: the token from `MFA_REQUIRED` (used up by this call, right
    /// or wrong) and a TOTP or recovery code. The client's limit comes first, before anything
    /// the token names is counted or read.
    pub async fn verify_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        self.throttle
            .check(Bucket::MfaClient, &client.key(), None, client)
            .await?;
        let (uid, secret) = mfa_token.split_once('.').ok_or(AppError::InvalidToken)?;
        let id = UserId::parse(uid).ok_or(AppError::InvalidToken)?;
        self.count_code_attempt(&id, client).await?;
        if !self
            .store
            .take_mfa_challenge(&id, &token_hash(secret), self.clock.now())
            .await?
        {
            return Err(AppError::InvalidToken);
        }
        let user = self
            .store
            .find_user(&id)
            .await?
            .filter(|u| u.is_active)
            .ok_or(AppError::InvalidToken)?;
        if let Err(err) = self.spend_code(&user, code).await {
            tracing::info!(target: "audit", event = "mfa_failed", user_id = %user.id, client_ip = %client.key());
            return Err(err);
        }
        self.complete_login(user, client, SignInMethod::Mfa).await
    }

    /// Second-factor codes count against the account's login limits, like password guesses.
    async fn count_code_attempt(&self, user: &UserId, client: &ClientInfo) -> AppResult<()> {
        self.check_account_budget(user.as_str(), Some(user), client)
            .await
    }

    /// Accepts a TOTP code (each step once) or a recovery code (each once) of an account with
    /// TOTP on; `INVALID_MFA_CODE` otherwise.
    pub(super) async fn spend_code(&self, user: &UserRecord, code: &str) -> AppResult<()> {
        let mfa = self.store.find_mfa(&user.id).await?;
        let Some(sealed) = mfa.totp else {
            return Err(AppError::InvalidMfaCode);
        };
        let totp = totp(self.sealer.open(&sealed)?, user.username.as_str())?;
        let accepted = match matching_step(&totp, code, self.clock.now().timestamp()) {
            Some(step) => self.store.use_totp_step(&user.id, step).await?,
            None => {
                self.store
                    .use_recovery_code(&user.id, &recovery_hash(code))
                    .await?
            }
        };
        if accepted {
            Ok(())
        } else {
            Err(AppError::InvalidMfaCode)
        }
    }

    /// The caller, who must have signed up: a guest has no password to pair a factor with.
    pub(super) async fn user_of(&self, claims: &Claims) -> AppResult<UserRecord> {
        let user = self
            .store
            .find_user(&claims.sub)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if user.is_guest() {
            return Err(AppError::AccountRequired {
                message: GUESTS_CANNOT,
            });
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_the_current_or_a_previous_key_only() {
        let old = SecretString::from("old-secret-old-secret-old-secret!!");
        let new = SecretString::from("new-secret-new-secret-new-secret!!");
        let sealed = Sealer::new(&old, &[])
            .seal(b"twenty bytes secret!")
            .unwrap();
        assert!(!sealed.0.contains("twenty"));
        let rotated = Sealer::new(&new, std::slice::from_ref(&old));
        assert_eq!(rotated.open(&sealed).unwrap(), b"twenty bytes secret!");
        assert!(Sealer::new(&new, &[]).open(&sealed).is_err());
    }

    #[test]
    fn codes_match_their_step_and_the_steps_beside_it() {
        let totp = totp(b"12345678901234567890".to_vec(), "ada").unwrap();
        let now = 1_800_000_000;
        let step = now / STEP_SECS;
        let code_at = |s: i64| totp.generate((s * STEP_SECS) as u64).to_string();
        assert_eq!(matching_step(&totp, &code_at(step), now), Some(step));
        assert_eq!(
            matching_step(&totp, &code_at(step - 1), now),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&totp, &code_at(step + 1), now),
            Some(step + 1)
        );
        assert_eq!(matching_step(&totp, &code_at(step - 2), now), None);
        assert_eq!(matching_step(&totp, "12345", now), None);
        // RFC 6238's SHA-1 test vector: 59 s gives 94287082, whose last six digits count.
        assert_eq!(totp.generate(59).to_string(), "287082");
    }

    #[test]
    fn recovery_codes_are_distinct_and_spelling_insensitive() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );
        let c = &codes[0];
        assert_eq!(
            recovery_hash(c),
            recovery_hash(&c.to_uppercase().replace('-', " "))
        );
    }
}
