//! The login flows of the design's "plan 2": the browser holds only a short-lived access JWT;
//! each session's refresh token stays on the user document and is rotated on every refresh.
//! Audit events go to the `audit` log target with the user id and client address, never a secret.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::{
    AuthSettings,
    breached::BreachCheck,
    link_mailer::LinkMailer,
    links::{LinkPurpose, LinkSigner},
    live_sessions::LiveSessions,
    mfa::Sealer,
    password::{Hasher, Password},
    tokens::{Claims, IssuedToken, TokenError, TokenKeys, chrono_duration},
    validate,
};
use crate::domain::ClientInfo;
use crate::ratelimit::{Bucket, Throttle};
mod email_change;
mod email_sign_in;
mod housekeeping;
mod sessions;
mod stepup;
pub use email_sign_in::LinkSignIn;
pub use housekeeping::Housekeeping;

use crate::{
    domain::identity::{EmailAddress, Username, email_key, login_key},
    domain::{AppError, AppResult, Credentials, GUESTS_CANNOT, SharedClock, SignInMethod},
    domain::{SessionId, SessionRecord, UserId, UserRecord, WindowCount},
    mail::{outbox::Outbox, templates::SecurityNotice},
    store::{SessionRotation, Store},
};

/// Concurrent refreshes of one session each retry their compare-and-swap this often before
/// giving up; twenty tabs refreshing at once need at most twenty rounds.
const ROTATE_ATTEMPTS: usize = 64;
const USER_AGENT_MAX: usize = 256;
pub struct SignUp {
    pub username: Username,
    pub email: EmailAddress,
    pub password: Password,
}

/// A new session: who logged in and the access token to hand them.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub user: UserRecord,
    pub access: IssuedToken,
}

pub struct AuthService {
    pub(super) store: Arc<dyn Store>,
    mailer: Arc<LinkMailer>,
    tokens: TokenKeys,
    links: LinkSigner,
    pub(super) throttle: Arc<Throttle>,
    breached: BreachCheck,
    hasher: Hasher,
    pub(super) sealer: Sealer,
    pub(super) live: LiveSessions,
    /// `None` when passkeys are off (no usable relying party).
    pub(super) relying_party: Option<webauthn_rs::Webauthn>,
    settings: AuthSettings,
    pub(super) clock: SharedClock,
    housekeeping: Arc<Housekeeping>,
    /// The OpenID Connect providers offered for sign-in.
    pub(super) social: super::social::SocialProviders,
    /// Link mails sent after the answer (so it is as fast for every address): tracked, so that
    /// a caller can tell when none is still on its way.
    deferred_mail: TaskTracker,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        outbox: Arc<Outbox>,
        settings: AuthSettings,
        throttle: Arc<Throttle>,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let secret = settings.signing_secret();
        if settings.hash_cost.is_weak() {
            tracing::warn!(
                memory_kib = settings.hash_cost.password_hash_memory_kib,
                iterations = settings.hash_cost.password_hash_iterations,
                "passwords are hashed below OWASP's recommended argon2id cost"
            );
        }
        Ok(AuthService {
            hasher: Hasher::new(&settings.hash_cost)?,
            live: LiveSessions::new(store.clone(), settings.session_cache_ttl, clock.clone()),
            mailer: Arc::new(LinkMailer {
                store: store.clone(),
                outbox,
                links: LinkSigner::new(&secret),
                public_url: settings.public_url.clone(),
                unverified_account_ttl: settings.unverified_account_ttl,
                sign_up_by_link: settings.sign_up_by_link,
                clock: clock.clone(),
            }),
            store,
            tokens: TokenKeys::with_previous(&secret, &settings.jwt_previous_secrets),
            links: LinkSigner::new(&secret),
            throttle,
            sealer: Sealer::new(&secret, &settings.jwt_previous_secrets),
            relying_party: super::passkeys::relying_party(&settings)?,
            breached: BreachCheck::new(
                settings.pwned_passwords_url.clone(),
                settings.pwned_passwords_fail,
            )?,
            social: super::social::SocialProviders::new(&settings)?,
            settings,
            clock,
            housekeeping: Arc::default(),
            deferred_mail: TaskTracker::new(),
        })
    }

    /// The periodic clean-up's trigger.
    pub fn housekeeping(&self) -> Arc<Housekeeping> {
        self.housekeeping.clone()
    }

    /// Link mails answered for but not yet in the outbox (see `mail_link_later`).
    pub fn deferred_mail(&self) -> TaskTracker {
        self.deferred_mail.clone()
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    fn verify_access(&self, token: &str) -> Result<Claims, TokenError> {
        self.tokens.verify_access(token, self.clock.now())
    }

    /// The caller an access token names, if its signature holds, it has not expired and its
    /// session has not ended (`SESSION_EXPIRED`: logged out, revoked, or ended by a password
    /// change, on this process at once, on another within `SESSION_CACHE_TTL`).
    pub async fn authenticate(&self, token: &str) -> AppResult<Claims> {
        let claims = match self.verify_access(token) {
            Ok(claims) => claims,
            Err(TokenError::Expired(_)) => return Err(AppError::TokenExpired),
            Err(TokenError::Invalid) => return Err(AppError::Unauthenticated),
        };
        if self.live.is_live(&claims.sub, &claims.sid).await? {
            Ok(claims)
        } else {
            Err(AppError::SessionExpired)
        }
    }

    /// Whether the session `claims` names is still going, for connections that outlive their
    /// access token (subscriptions): not logged out, revoked or ended by a password change, not
    /// past its absolute end, and not idle longer than `refreshToken` would allow. Seen on
    /// other processes within `SESSION_CACHE_TTL`.
    pub async fn session_alive(&self, claims: &Claims) -> AppResult<bool> {
        let Some(times) = self.live.times(&claims.sub, &claims.sid).await? else {
            return Ok(false);
        };
        let now = self.clock.now();
        // A refresh works until the idle window after the latest token's expiry.
        let idle_deadline = times.last_activity
            + chrono_duration(self.settings.access_token_ttl)
            + chrono_duration(self.settings.session_idle_timeout);
        Ok(now < times.expires_at && now <= idle_deadline)
    }

    /// An account that was never verified holds neither its username nor its address: signing
    /// up again replaces it (and kills its links), so nobody can claim someone else's address
    /// ahead of them. Rate limits and cheap checks come first, so that a flood of sign-ups costs
    /// next to nothing; zxcvbn and argon2 run on the CPU threads, and only for sign-ups that
    /// could succeed.
    pub async fn sign_up(&self, input: SignUp, client: &ClientInfo) -> AppResult<UserRecord> {
        let user = self
            .new_account(input, UserId::new_random(), client)
            .await?;
        let replaced = self.store.insert_user_replacing_pending(&user).await?;
        tracing::info!(target: "audit", event = "signed_up", user_id = %user.id, replaced_pending = replaced, client_ip = %client.key());
        self.send_link(&user, LinkPurpose::VerifyEmail).await;
        Ok(user)
    }

    /// What a sign-up checks, and the unverified account it makes with `id`: `signUp` stores
    /// it as a new account, `upgradeGuest` over the guest's.
    pub(super) async fn new_account(
        &self,
        input: SignUp,
        id: UserId,
        client: &ClientInfo,
    ) -> AppResult<UserRecord> {
        let SignUp {
            username,
            email,
            password,
        } = input;
        validate::password_rules("password", password.expose(), username.as_str())?;
        let (username_norm, email_norm) = (username.key(), email.key());
        self.throttle
            .check(Bucket::SignUpClient, &client.key(), None, client)
            .await?;
        // A sign-up sends the verification e-mail, so it counts against the mail limits too.
        self.throttle
            .check(Bucket::MailClient, &client.key(), None, client)
            .await?;
        self.throttle
            .check(Bucket::MailAddress, &email_norm, None, client)
            .await?;
        // A verified account's name is refused before any costly check; the store decides races.
        let held = |user: Option<UserRecord>| user.is_some_and(|u| u.is_active);
        if held(self.store.find_user_by_username(&username_norm).await?) {
            return Err(AppError::Conflict { field: "username" });
        }
        if held(self.store.find_user_by_email(&email_norm).await?) {
            return Err(AppError::Conflict { field: "email" });
        }
        validate::password_strength("password", password.expose(), username.as_str()).await?;
        self.breached.check("password", password.expose()).await?;
        Ok(UserRecord {
            id,
            username,
            username_norm,
            credentials: Some(Credentials {
                email,
                email_norm,
                password_hash: self.hasher.hash(password).await?,
            }),
            is_active: false,
            created_at: self.clock.now(),
            locale: client.locale.unwrap_or_default(),
            disabled: false,
        })
    }

    pub(super) fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Stores the e-mail and makes the first delivery attempt before returning.
    pub(super) async fn send_link(&self, user: &UserRecord, purpose: LinkPurpose) {
        self.mailer.send(user, purpose).await;
    }

    /// E-mails the owner a security notice (stored before the request returns).
    pub(super) async fn notify(&self, user: &UserRecord, notice: SecurityNotice) {
        self.mailer.notify(user, notice).await;
    }

    /// Answers at once and the same way for every address: only the limits (the same store
    /// round trips either way, keyed on the address as typed) are checked here; `send` (given
    /// the mailer, the address's key and the client's address) looks the address up and mails
    /// in a background task, so neither the store nor the mail server shows in the response
    /// time. Limits apply whether or not the address is registered, so they reveal nothing
    /// either.
    async fn mail_later<F, Fut>(&self, email: &str, client: &ClientInfo, send: F) -> AppResult<()>
    where
        F: FnOnce(Arc<LinkMailer>, String, String) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let email_norm = email_key(email);
        self.throttle
            .check(Bucket::MailClient, &client.key(), None, client)
            .await?;
        self.throttle
            .check(Bucket::MailAddress, &email_norm, None, client)
            .await?;
        // In the request's span, so its log lines carry the request id.
        self.deferred_mail
            .spawn(send(self.mailer.clone(), email_norm, client.key()).in_current_span());
        Ok(())
    }

    /// Mails the link for `purpose` to the account with this address, if it needs one.
    async fn mail_link_later(
        &self,
        email: &str,
        purpose: LinkPurpose,
        client: &ClientInfo,
    ) -> AppResult<()> {
        self.mail_later(
            email,
            client,
            move |mailer, email_norm, client_ip| async move {
                mailer
                    .send_if_registered(&email_norm, purpose, &client_ip)
                    .await
            },
        )
        .await
    }

    /// Always succeeds (unless rate limited), so the answer never tells whether an address is
    /// registered.
    pub async fn resend_verification(&self, email: &str, client: &ClientInfo) -> AppResult<()> {
        self.mail_link_later(email, LinkPurpose::VerifyEmail, client)
            .await
    }

    /// Like resending: the same answer, as fast, for every address.
    pub async fn request_password_reset(&self, email: &str, client: &ClientInfo) -> AppResult<()> {
        self.mail_link_later(email, LinkPurpose::ResetPassword, client)
            .await
    }

    /// The user an e-mailed link was made for, if the link is still good; `INVALID_TOKEN`
    /// otherwise, whatever the reason.
    async fn user_from_link(
        &self,
        purpose: LinkPurpose,
        uid: &str,
        token: &str,
    ) -> AppResult<UserRecord> {
        let id = UserId::parse(uid).ok_or(AppError::InvalidToken)?;
        let user = self
            .store
            .find_user(&id)
            .await?
            .ok_or(AppError::InvalidToken)?;
        if self.links.check(purpose, &user, token, self.clock.now()) {
            Ok(user)
        } else {
            Err(AppError::InvalidToken)
        }
    }

    /// Checks and hashes a new password and swaps it in, only if the stored hash is still the
    /// one `user` was read with; `false` when it changed meanwhile.
    async fn replace_password(&self, user: &UserRecord, new_password: Password) -> AppResult<bool> {
        let current = user.password_hash().ok_or(AppError::AccountRequired {
            message: GUESTS_CANNOT,
        })?;
        validate::password("newPassword", new_password.expose(), user.username.as_str()).await?;
        self.breached
            .check("newPassword", new_password.expose())
            .await?;
        let hash = self.hasher.hash(new_password).await?;
        Ok(self
            .store
            .set_password_hash(&user.id, current, &hash)
            .await?)
    }

    /// Sets a new password from an e-mailed link and ends every session. The link proves the
    /// mailbox only, so every passkey goes too (one planted with a stolen session must not
    /// outlive the reset); TOTP stays on, so a mailbox alone never gets past the second factor.
    /// The owner is told both.
    pub async fn reset_password(
        &self,
        uid: &str,
        token: &str,
        new_password: Password,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self
            .user_from_link(LinkPurpose::ResetPassword, uid, token)
            .await?;
        let id = user.id.clone();
        // The old hash in the filter makes the link single-use under a race too.
        if !self.replace_password(&user, new_password).await? {
            return Err(AppError::InvalidToken);
        }
        let passkeys_removed = self.store.delete_passkeys(&id).await?;
        let ended = self.store.remove_sessions(&id, None).await?;
        self.live.ended_all(&id, None);
        tracing::info!(target: "audit", event = "password_reset", user_id = %id, sessions_ended = ended, passkeys_removed, client_ip = %client.key());
        let totp_on = self.store.find_mfa(&id).await?.enabled();
        self.notify(
            &user,
            SecurityNotice::PasswordReset {
                passkeys_removed,
                totp_on,
            },
        )
        .await;
        Ok(())
    }

    /// Needs the current password; ends every other session.
    pub async fn change_password(
        &self,
        claims: &Claims,
        current: Password,
        new_password: Password,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self
            .store
            .find_user(&claims.sub)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let Some(hash) = user.password_hash().cloned() else {
            return Err(AppError::AccountRequired {
                message: GUESTS_CANNOT,
            });
        };
        self.check_account_budget(user.id.as_str(), Some(&user.id), client)
            .await?;
        if !self.hasher.verify(current, Some(hash)).await? {
            tracing::info!(target: "audit", event = "password_change_failed", user_id = %user.id, client_ip = %client.key());
            return Err(AppError::InvalidCredentials);
        }
        if !self.replace_password(&user, new_password).await? {
            // Changed concurrently: the current password no longer is what was checked.
            return Err(AppError::InvalidCredentials);
        }
        let ended = self
            .store
            .remove_sessions(&user.id, Some(&claims.sid))
            .await?;
        self.live.ended_all(&user.id, Some(&claims.sid));
        tracing::info!(target: "audit", event = "password_changed", user_id = %user.id, sessions_ended = ended, client_ip = %client.key());
        self.notify(&user, SecurityNotice::PasswordChanged).await;
        Ok(())
    }

    pub async fn verify_email(
        &self,
        uid: &str,
        token: &str,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        let mut user = self
            .user_from_link(LinkPurpose::VerifyEmail, uid, token)
            .await?;
        let id = user.id.clone();
        // The filter on `is_active = false` makes the link single-use even under a race.
        if !self.store.activate_user(&id).await? {
            return Err(AppError::InvalidToken);
        }
        user.is_active = true;
        tracing::info!(target: "audit", event = "email_verified", user_id = %user.id, client_ip = %client.key());
        self.start_session(user, client, SignInMethod::Password)
            .await
    }

    pub async fn login(
        &self,
        username: &str,
        password: Password,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        let key = login_key(username);
        self.throttle
            .check(Bucket::LoginClient, &client.key(), None, client)
            .await?;
        let user = if key.contains('@') {
            self.store.find_user_by_email(&key).await?
        } else {
            self.store.find_user_by_username(&key).await?
        };
        // Keyed on the account, however it was named; unknown names get budgets of their own.
        let account = user
            .as_ref()
            .map_or_else(|| format!("unknown:{key}"), |u| u.id.to_string());
        self.check_account_budget(&account, user.as_ref().map(|u| &u.id), client)
            .await?;
        // A guest has no password: it takes the dummy hash's time and never matches.
        let hash = user.as_ref().and_then(|u| u.password_hash().cloned());
        if !self.hasher.verify(password, hash).await? {
            tracing::info!(
                target: "audit",
                event = "login_failed",
                user_id = user.as_ref().map(|u| u.id.to_string()).unwrap_or_default(),
                client_ip = %client.key()
            );
            return Err(AppError::InvalidCredentials);
        }
        let user = user.ok_or(AppError::InvalidCredentials)?;
        if !user.is_active {
            return Err(AppError::EmailNotVerified);
        }
        // Before the second step, so a disabled account is not asked for a code it cannot use.
        if user.disabled {
            tracing::info!(target: "audit", event = "login_refused_disabled", user_id = %user.id, client_ip = %client.key());
            return Err(AppError::AccountDisabled);
        }
        if let Some(second_step) = self.second_factor_required(&user).await? {
            tracing::info!(target: "audit", event = "mfa_required", user_id = %user.id, client_ip = %client.key());
            return Err(second_step);
        }
        self.complete_login(user, client, SignInMethod::Password)
            .await
    }

    /// Where every login that proved who it is ends, whatever proved it: the audit event and a
    /// new session that remembers `method`.
    pub(super) async fn complete_login(
        &self,
        user: UserRecord,
        client: &ClientInfo,
        method: SignInMethod,
    ) -> AppResult<LoginOutcome> {
        self.complete_login_with(user, client, method, None).await
    }

    /// [`complete_login`](Self::complete_login), naming the identity provider that proved it.
    pub(super) async fn complete_login_with(
        &self,
        user: UserRecord,
        client: &ClientInfo,
        method: SignInMethod,
        provider: Option<&str>,
    ) -> AppResult<LoginOutcome> {
        if user.disabled {
            // `start_session` refuses it too; here it is refused before "login_succeeded".
            return self.start_session(user, client, method).await;
        }
        let method_name = method.as_str().to_ascii_lowercase();
        tracing::info!(target: "audit", event = "login_succeeded", user_id = %user.id, client_ip = %client.key(), method = %method_name, provider = provider.unwrap_or_default());
        self.start_session(user, client, method).await
    }

    /// Password guesses at one account: limited per client, so a stranger guessing from
    /// elsewhere never uses up the owner's attempts, and under a higher ceiling across all
    /// clients, against guessing from many addresses.
    pub(super) async fn check_account_budget(
        &self,
        account: &str,
        user: Option<&UserId>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let per_client = format!("{account} {}", client.key());
        self.throttle
            .check(Bucket::LoginAccount, &per_client, user, client)
            .await?;
        self.throttle
            .check(Bucket::LoginAccountGlobal, account, user, client)
            .await
    }

    /// Logs `user` in: a new session (recording how it signed in) and its access token. Every
    /// way in ends here, so this is where a disabled account is turned away.
    pub(super) async fn start_session(
        &self,
        user: UserRecord,
        client: &ClientInfo,
        method: SignInMethod,
    ) -> AppResult<LoginOutcome> {
        if user.disabled {
            let method_name = method.as_str().to_ascii_lowercase();
            tracing::info!(target: "audit", event = "login_refused_disabled", user_id = %user.id, client_ip = %client.key(), method = %method_name);
            return Err(AppError::AccountDisabled);
        }
        let now = self.clock.now();
        let session_id = SessionId::new_random();
        let expires_at = now + chrono_duration(self.settings.refresh_token_ttl);
        let session = SessionRecord {
            id: session_id.clone(),
            refresh_token: self
                .tokens
                .issue_refresh(&user.id, &session_id, now, expires_at),
            created_at: now,
            expires_at,
            last_refreshed_at: None,
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(USER_AGENT_MAX).collect()),
            generation: 0,
            refreshes: WindowCount::default(),
            method,
            authenticated_at: now,
        };
        if !self.store.add_session(&user.id, &session).await? {
            return Err(AppError::InvalidCredentials);
        }
        let access = self.issue_access(&user, &session_id, 0, now, expires_at);
        Ok(LoginOutcome { user, access })
    }

    /// Never outlives the session it belongs to.
    fn issue_access(
        &self,
        user: &UserRecord,
        session: &SessionId,
        generation: i64,
        now: DateTime<Utc>,
        session_end: DateTime<Utc>,
    ) -> IssuedToken {
        let exp = (now + chrono_duration(self.settings.access_token_ttl)).min(session_end);
        self.tokens.issue_access(
            &user.id,
            user.username.as_str(),
            session,
            generation,
            now,
            exp,
        )
    }

    /// Genuine claims from a token that is unexpired, or expired less than
    /// `SESSION_IDLE_TIMEOUT` ago: the only tokens that may still act on their session (refresh,
    /// logout), so a leaked old token can do nothing. Forged or missing is `UNAUTHENTICATED`,
    /// older `SESSION_EXPIRED`.
    fn claims_within_idle_window(&self, token: Option<&str>) -> AppResult<Claims> {
        let claims = match self.verify_access(token.ok_or(AppError::Unauthenticated)?) {
            Ok(claims) => claims,
            Err(TokenError::Expired(claims)) => *claims,
            Err(TokenError::Invalid) => return Err(AppError::Unauthenticated),
        };
        let idle_deadline =
            claims.expires_at() + chrono_duration(self.settings.session_idle_timeout);
        if self.clock.now() > idle_deadline {
            return Err(AppError::SessionExpired);
        }
        Ok(claims)
    }

    /// Whom a browser is logged in as: the user of a genuine access token (an expired one too,
    /// since the browser would refresh it) whose session still lasts. `None` for anyone else.
    pub async fn logged_in_user(
        &self,
        access_token: Option<&str>,
    ) -> AppResult<Option<UserRecord>> {
        let Ok(claims) = self.claims_within_idle_window(access_token) else {
            return Ok(None);
        };
        let lasts = self
            .store
            .find_session(&claims.sub, &claims.sid)
            .await?
            .is_some_and(|s| s.expires_at > self.clock.now());
        if !lasts {
            return Ok(None);
        }
        Ok(self.store.find_user(&claims.sub).await?)
    }

    /// "Plan 2": the access token names the user and session; the stored refresh token, not
    /// anything the client holds, authorizes the renewal. Each refresh advances the session's
    /// generation; a token from an older generation is accepted only within the reuse interval
    /// (two tabs refreshing together), and only from the generation just before; anything else
    /// ends the session as stolen.
    pub async fn refresh(
        &self,
        access_token: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<(UserRecord, IssuedToken)> {
        let claims = self.claims_within_idle_window(access_token)?;
        let now = self.clock.now();
        let user = self
            .store
            .find_user(&claims.sub)
            .await?
            .filter(|u| u.is_active)
            .ok_or(AppError::SessionExpired)?;
        if user.disabled {
            return Err(AppError::AccountDisabled);
        }
        for _ in 0..ROTATE_ATTEMPTS {
            let session = self
                .store
                .find_session(&claims.sub, &claims.sid)
                .await?
                .ok_or(AppError::SessionExpired)?;
            if session.expires_at <= now
                || !self.tokens.verify_refresh(
                    &session.refresh_token,
                    &claims.sub,
                    &claims.sid,
                    now,
                )
            {
                return Err(AppError::SessionExpired);
            }
            if claims.r#gen != session.generation {
                let recent = session.last_refreshed_at.is_some_and(|at| {
                    now - at <= chrono_duration(self.settings.refresh_reuse_interval)
                });
                if claims.r#gen == session.generation - 1 && recent {
                    // Another tab refreshed a moment ago: share its generation, within the
                    // session's limit (checked, not counted: nothing is written).
                    self.throttle.count_on_record(
                        Bucket::RefreshSession,
                        session.refreshes,
                        Some(&claims.sub),
                        client,
                    )?;
                    let access = self.issue_access(
                        &user,
                        &claims.sid,
                        session.generation,
                        now,
                        session.expires_at,
                    );
                    return Ok((user, access));
                }
                self.store.remove_session(&claims.sub, &claims.sid).await?;
                self.live.ended(&claims.sub, &claims.sid);
                tracing::warn!(
                    target: "audit",
                    event = "refresh_token_reuse_detected",
                    user_id = %claims.sub,
                    session_id = %claims.sid,
                    token_generation = claims.r#gen,
                    session_generation = session.generation,
                    client_ip = %client.key(),
                    "an old access token was replayed; the session is revoked"
                );
                return Err(AppError::SessionExpired);
            }
            let refreshes = self.throttle.count_on_record(
                Bucket::RefreshSession,
                session.refreshes,
                Some(&claims.sub),
                client,
            )?;
            let next = session.generation + 1;
            let rotation = SessionRotation {
                refresh_token: self.tokens.issue_refresh(
                    &claims.sub,
                    &claims.sid,
                    now,
                    session.expires_at,
                ),
                generation: next,
                at: now,
                refreshes,
            };
            if self
                .store
                .rotate_refresh_token(&claims.sub, &claims.sid, &session.refresh_token, &rotation)
                .await?
            {
                let access = self.issue_access(&user, &claims.sid, next, now, session.expires_at);
                tracing::info!(target: "audit", event = "refreshed", user_id = %claims.sub, client_ip = %client.key());
                return Ok((user, access));
            }
            // Another request rotated it first: read the new state and decide again.
            tokio::task::yield_now().await;
        }
        Err(AppError::internal(anyhow::anyhow!(
            "refresh token rotation kept losing races"
        )))
    }
}
