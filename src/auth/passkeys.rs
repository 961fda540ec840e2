//! Passkeys (WebAuthn, with `webauthn-rs`): registration for a logged-in user that recently
//! proved who it is, and login with a passkey alone. Passkeys are discoverable credentials and
//! a login never lists any (`allowCredentials` stays empty), so the options for an account
//! with passkeys, one without and an unknown name look the same. The ceremony state is stored
//! (single use, five minutes), so any server process can finish what another started; sign
//! counters only move forward, by compare-and-swap in the store.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::{
    AuthSettings, LoginOutcome,
    service::AuthService,
    tokens::{Claims, chrono_duration},
};
use crate::domain::{ClientInfo, Message, MessageKey};
use crate::ratelimit::Bucket;
use crate::{
    domain::identity::login_key,
    domain::{AppError, AppResult},
    domain::{
        PasskeyCeremony, PasskeyChallengeId, PasskeyChallengeRecord, PasskeyId, PasskeyRecord,
        UserId, UserRecord,
    },
    mail::templates::SecurityNotice,
};

/// How long a started registration or login can be finished; also the timeout the browser is
/// given.
const CHALLENGE_TTL: std::time::Duration = std::time::Duration::from_secs(5 * 60);
const NAME_MAX: usize = 64;
const DEFAULT_NAME: &str = "Passkey";
/// What authenticators show as the site's name.
const RP_NAME: &str = "Quiz LLM";

/// What `startPasskeyRegistration` and `startPasskeyLogin` hand out: the challenge to finish
/// and the options for `navigator.credentials.create` / `.get` (binary fields in base64url).
#[derive(Debug, Clone)]
pub struct StartedCeremony {
    pub challenge_id: PasskeyChallengeId,
    pub options: Value,
}

/// The relying party from `WEBAUTHN_RP_ID` / `WEBAUTHN_RP_ORIGIN`, defaulting from
/// `PUBLIC_URL`. Settings that name no usable relying party fail the start when set
/// explicitly; derived from a `PUBLIC_URL` that cannot be one (an IP address), passkeys are
/// off with a warning.
pub(super) fn relying_party(settings: &AuthSettings) -> anyhow::Result<Option<Webauthn>> {
    let explicit = settings.webauthn_rp_id.is_some() || settings.webauthn_rp_origin.is_some();
    let built = (|| -> anyhow::Result<Webauthn> {
        let base = settings
            .webauthn_rp_origin
            .as_deref()
            .unwrap_or(&settings.public_url);
        let origin = Url::parse(base)?.origin();
        if !origin.is_tuple() {
            anyhow::bail!("{base:?} has no origin");
        }
        let origin = Url::parse(&origin.ascii_serialization())?;
        let rp_id = match &settings.webauthn_rp_id {
            Some(id) => id.trim().to_owned(),
            None => origin.host_str().unwrap_or_default().to_owned(),
        };
        WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name(RP_NAME).timeout(CHALLENGE_TTL).build())
            .map_err(|e| {
                anyhow::anyhow!(
                    "relying party id {rp_id:?} is not a domain that the origin {origin} belongs \
                     to ({e})"
                )
            })
    })();
    match built {
        Ok(webauthn) => Ok(Some(webauthn)),
        Err(err) if explicit => Err(err.context("WEBAUTHN_RP_ID / WEBAUTHN_RP_ORIGIN")),
        Err(err) => {
            tracing::warn!(error = %err, "passkeys are off: PUBLIC_URL cannot be a WebAuthn relying party; set WEBAUTHN_RP_ID and WEBAUTHN_RP_ORIGIN");
            Ok(None)
        }
    }
}

/// A passkey's name as given: trimmed, at most 64 characters, no control characters.
fn passkey_name(name: Option<&str>) -> AppResult<String> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Ok(DEFAULT_NAME.into());
    };
    if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "name",
            Message::new(MessageKey::PasskeyNameInvalid).with("max", NAME_MAX),
        ));
    }
    Ok(name.to_owned())
}

/// The credential as the browser API returns it, serialised; a JSON string holding it is taken
/// too (easier to paste into GraphiQL).
fn credential_from<T: serde::de::DeserializeOwned>(credential: Value) -> AppResult<T> {
    let credential = match credential {
        Value::String(s) => serde_json::from_str(&s).ok(),
        other => Some(other),
    };
    credential
        .and_then(|c| serde_json::from_value(c).ok())
        .ok_or_else(|| AppError::bad_input("credential", MessageKey::CredentialMalformed))
}

fn to_json<T: Serialize>(value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(AppError::internal)
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> AppResult<T> {
    serde_json::from_str(json)
        .map_err(|e| AppError::internal(anyhow::anyhow!("stored passkey data: {e}")))
}

fn user_handle(user: &UserId) -> AppResult<Uuid> {
    Uuid::parse_str(user.as_str()).map_err(AppError::internal)
}

impl AuthService {
    fn webauthn(&self) -> AppResult<&Webauthn> {
        self.relying_party.as_ref().ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "passkeys are off: set WEBAUTHN_RP_ID and WEBAUTHN_RP_ORIGIN"
            ))
        })
    }

    /// Stores a ceremony's state for [`CHALLENGE_TTL`] and hands out its id with the options.
    async fn store_challenge(
        &self,
        ceremony: PasskeyCeremony,
        user_id: Option<UserId>,
        state: String,
        options: Value,
    ) -> AppResult<StartedCeremony> {
        let challenge = PasskeyChallengeRecord {
            id: PasskeyChallengeId::new_random(),
            ceremony,
            user_id,
            state,
            expires_at: self.clock.now() + chrono_duration(CHALLENGE_TTL),
        };
        self.store.insert_passkey_challenge(&challenge).await?;
        Ok(StartedCeremony {
            challenge_id: challenge.id,
            options,
        })
    }

    /// Uses up the challenge (whatever happens next) if it is a live one of `ceremony`.
    async fn take_challenge(
        &self,
        id: &str,
        ceremony: PasskeyCeremony,
    ) -> AppResult<Option<PasskeyChallengeRecord>> {
        let Some(id) = PasskeyChallengeId::parse(id) else {
            return Ok(None);
        };
        Ok(self
            .store
            .take_passkey_challenge(&id, self.clock.now())
            .await?
            .filter(|c| c.ceremony == ceremony))
    }

    /// Options to create a passkey for the caller (their existing ones excluded). Resident keys
    /// are required: a login lists no credentials, so only a discoverable one can answer it.
    /// Needs a recent authentication, and counts against the caller's registration limit (each
    /// start stores a challenge).
    pub async fn start_passkey_registration(
        &self,
        claims: &Claims,
        client: &ClientInfo,
    ) -> AppResult<StartedCeremony> {
        let webauthn = self.webauthn()?;
        let user = self.recently_authenticated(claims).await?;
        self.throttle
            .check(
                Bucket::PasskeyRegistrationUser,
                user.id.as_str(),
                Some(&user.id),
                client,
            )
            .await?;
        let existing = self
            .store
            .list_passkeys(&user.id)
            .await?
            .iter()
            .map(|p| from_json::<Passkey>(&p.credential).map(|k| k.cred_id().clone()))
            .collect::<AppResult<Vec<_>>>()?;
        let (options, state) = webauthn
            .start_passkey_registration(
                user_handle(&user.id)?,
                user.username.as_str(),
                user.username.as_str(),
                Some(existing),
            )
            .map_err(AppError::internal)?;
        let mut options = serde_json::to_value(options).map_err(AppError::internal)?;
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
        self.store_challenge(
            PasskeyCeremony::Registration,
            Some(user.id),
            to_json(&state)?,
            options,
        )
        .await
    }

    /// Verifies the authenticator's answer to the caller's registration challenge and keeps the
    /// new passkey. The challenge is used up, whether or not the answer verifies.
    pub async fn finish_passkey_registration(
        &self,
        claims: &Claims,
        challenge_id: &str,
        credential: Value,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<PasskeyRecord> {
        let webauthn = self.webauthn()?;
        let user = self.recently_authenticated(claims).await?;
        let name = passkey_name(name)?;
        let credential: RegisterPublicKeyCredential = credential_from(credential)?;
        let challenge = self
            .take_challenge(challenge_id, PasskeyCeremony::Registration)
            .await?
            .filter(|c| c.user_id.as_ref() == Some(&claims.sub))
            .ok_or_else(|| AppError::bad_input("challengeId", MessageKey::RegistrationUnknown))?;
        let state: PasskeyRegistration = from_json(&challenge.state)?;
        let key = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|err| {
                tracing::info!(target: "audit", event = "passkey_registration_failed", user_id = %claims.sub, reason = %err, client_ip = %client.key());
                AppError::bad_input(
                    "credential",
                    MessageKey::RegistrationNotVerified,
                )
            })?;
        let now = self.clock.now();
        let passkey = PasskeyRecord {
            id: PasskeyId::new_random(),
            user_id: claims.sub.clone(),
            credential_id: URL_SAFE_NO_PAD.encode(key.cred_id().as_slice()),
            name,
            credential: to_json(&key)?,
            sign_count: 0,
            created_at: now,
            last_used_at: None,
        };
        if !self.store.insert_passkey(&passkey).await? {
            return Err(AppError::bad_input(
                "credential",
                MessageKey::PasskeyAlreadyRegistered,
            ));
        }
        tracing::info!(target: "audit", event = "passkey_registered", user_id = %passkey.user_id, passkey_id = %passkey.id, client_ip = %client.key());
        self.notify(
            &user,
            SecurityNotice::PasskeyAdded {
                name: passkey.name.clone(),
            },
        )
        .await;
        Ok(passkey)
    }

    /// The caller's passkeys, oldest first.
    pub async fn passkeys(&self, user: &UserId) -> AppResult<Vec<PasskeyRecord>> {
        Ok(self.store.list_passkeys(user).await?)
    }

    /// `NOT_FOUND` unless the caller has a passkey with this id. Needs a recent authentication.
    pub async fn delete_passkey(
        &self,
        claims: &Claims,
        id: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        self.recently_authenticated(claims).await?;
        let id = PasskeyId::parse(id).ok_or(AppError::NotFound)?;
        if !self.store.delete_passkey(&claims.sub, &id).await? {
            return Err(AppError::NotFound);
        }
        tracing::info!(target: "audit", event = "passkey_deleted", user_id = %claims.sub, passkey_id = %id, client_ip = %client.key());
        Ok(())
    }

    /// Options to log in with a passkey: of the named account, or (no username) any
    /// discoverable one. Counts against the client's login limit. The options never list
    /// credentials, and the same work is done for every name, so the answer does not tell
    /// whether an account exists or has passkeys; a named login is tied to the account (to an
    /// id nobody has when there is none), so the finish takes only that account's passkey.
    pub async fn start_passkey_login(
        &self,
        username: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<StartedCeremony> {
        let webauthn = self.webauthn()?;
        self.throttle
            .check(Bucket::LoginClient, &client.key(), None, client)
            .await?;
        let user_id = match username.map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(username) => Some(
                self.find_login_user(username)
                    .await?
                    .filter(|u| u.is_active)
                    .map_or_else(UserId::new_random, |u| u.id),
            ),
        };
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(AppError::internal)?;
        let mut options = serde_json::to_value(options).map_err(AppError::internal)?;
        // The options are for a "log in with a passkey" button; a client that wants the
        // browser's autofill UI adds `mediation: "conditional"` itself.
        if let Some(options) = options.as_object_mut() {
            options.remove("mediation");
        }
        self.store_challenge(PasskeyCeremony::Login, user_id, to_json(&state)?, options)
            .await
    }

    /// A complete login with a passkey (it is two factors on its own, so TOTP is not asked
    /// for): the challenge is used up, the signature and the sign counter checked, and a
    /// session started as a password login would. `UNAUTHENTICATED` for anything that does not
    /// prove who it is.
    pub async fn finish_passkey_login(
        &self,
        challenge_id: &str,
        credential: Value,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        let webauthn = self.webauthn()?;
        self.throttle
            .check(Bucket::LoginClient, &client.key(), None, client)
            .await?;
        let credential: PublicKeyCredential = credential_from(credential)?;
        let refused = |user: Option<&UserId>, reason: &str| {
            tracing::info!(
                target: "audit",
                event = "login_failed",
                method = "passkey",
                user_id = user.map(ToString::to_string).unwrap_or_default(),
                reason,
                client_ip = %client.key()
            );
            AppError::PasskeyNotAccepted
        };
        let challenge = self
            .take_challenge(challenge_id, PasskeyCeremony::Login)
            .await?
            .ok_or_else(|| refused(None, "challenge unknown, used or expired"))?;
        let credential_id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
        let passkey = self
            .store
            .find_passkey_by_credential(&credential_id)
            .await?
            .filter(|p| challenge.user_id.as_ref().is_none_or(|u| *u == p.user_id))
            .ok_or_else(|| refused(challenge.user_id.as_ref(), "unknown passkey"))?;
        let owner = passkey.user_id.clone();
        self.check_account_budget(owner.as_str(), Some(&owner), client)
            .await?;
        let mut key: Passkey = from_json(&passkey.credential)?;
        // A login started by an earlier version (listing credentials) does not read as one.
        let Ok(state) = serde_json::from_str::<DiscoverableAuthentication>(&challenge.state) else {
            return Err(refused(Some(&owner), "challenge from an earlier version"));
        };
        // The authenticator names the user too; it must be the passkey's owner.
        let named = webauthn
            .identify_discoverable_authentication(&credential)
            .map(|(uuid, _)| uuid);
        let verified = match named {
            Ok(uuid) if uuid == user_handle(&owner)? => {
                webauthn.finish_discoverable_authentication_v2(&credential, state, &key)
            }
            Ok(_) => return Err(refused(Some(&owner), "user handle of another user")),
            Err(err) => Err(err),
        };
        let result = verified.map_err(|err| refused(Some(&owner), &err.to_string()))?;
        key.update_credential(&result);
        let sign_count = result.counter().max(passkey.sign_count);
        if !self
            .store
            .record_passkey_use(
                &passkey.id,
                passkey.sign_count,
                &to_json(&key)?,
                sign_count,
                self.clock.now(),
            )
            .await?
        {
            return Err(refused(Some(&owner), "sign counter changed meanwhile"));
        }
        let user = self
            .store
            .find_user(&owner)
            .await?
            .filter(|u| u.is_active)
            .ok_or_else(|| refused(Some(&owner), "account inactive or gone"))?;
        self.complete_login(user, client, crate::domain::SignInMethod::Passkey)
            .await
    }

    /// The account a login names, by username or e-mail address.
    async fn find_login_user(&self, username: &str) -> AppResult<Option<UserRecord>> {
        let key = login_key(username);
        Ok(if key.contains('@') {
            self.store.find_user_by_email(&key).await?
        } else {
            self.store.find_user_by_username(&key).await?
        })
    }

    /// Drops ceremonies nobody finished.
    pub(super) async fn purge_passkey_challenges(&self) -> AppResult<u64> {
        Ok(self
            .store
            .purge_passkey_challenges(self.clock.now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public_url: &str, id: Option<&str>, origin: Option<&str>) -> AuthSettings {
        AuthSettings {
            public_url: public_url.into(),
            webauthn_rp_id: id.map(Into::into),
            webauthn_rp_origin: origin.map(Into::into),
            ..AuthSettings::default()
        }
    }

    #[test]
    fn the_relying_party_follows_public_url_unless_set() {
        assert!(
            relying_party(&settings("https://quiz.example.com/app", None, None))
                .unwrap()
                .is_some()
        );
        // An IP address cannot be a relying party id: off, unless set explicitly.
        assert!(
            relying_party(&settings("http://127.0.0.1:8000", None, None))
                .unwrap()
                .is_none()
        );
        assert!(
            relying_party(&settings(
                "http://127.0.0.1:8000",
                None,
                Some("http://localhost:8000")
            ))
            .unwrap()
            .is_some()
        );
        assert!(
            relying_party(&settings(
                "https://quiz.example.com",
                Some("example.com"),
                None
            ))
            .unwrap()
            .is_some()
        );
        let err = relying_party(&settings(
            "https://quiz.example.com",
            Some("other.org"),
            None,
        ))
        .unwrap_err();
        assert!(format!("{err:#}").contains("WEBAUTHN_RP_ID"), "{err:#}");
    }

    #[test]
    fn names_are_trimmed_bounded_and_default() {
        assert_eq!(passkey_name(None).unwrap(), DEFAULT_NAME);
        assert_eq!(passkey_name(Some("  ")).unwrap(), DEFAULT_NAME);
        assert_eq!(passkey_name(Some(" Laptop ")).unwrap(), "Laptop");
        assert!(passkey_name(Some(&"x".repeat(NAME_MAX + 1))).is_err());
        assert!(passkey_name(Some("a\u{7}b")).is_err());
    }
}
