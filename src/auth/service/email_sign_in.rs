//! Passwordless sign-in by e-mail: `requestSignInLink` mails a link and a six-digit code (ten
//! minutes, either one works once), and `signInWithLink` or `signInWithCode` logs in with it
//! exactly as `login` does, second factor included. With `SIGN_UP_BY_LINK`, the link also
//! makes the account of an address nobody has, or confirms an unverified one.

use super::{AuthService, LoginOutcome};
use crate::{
    auth::{links::token_hash, validate},
    domain::identity::{USERNAME_LEN, email_key},
    domain::{AppError, AppResult, ClientInfo, Credentials, SignInMethod, UserId, UserRecord},
    domain::{PasswordHash, SignInRequestRecord, Username},
    ratelimit::Bucket,
    store::{StoreError, UniqueField},
};

/// Looking the link's account up again after losing a race (a sign-up or a confirmation of
/// the same address meanwhile) ends after this many rounds.
const ACCOUNT_ATTEMPTS: usize = 4;
/// Names made from an address that are tried before settling for a random one.
const NAME_ATTEMPTS: usize = 6;
/// Digits added to a name made from an address when the bare name is taken (or too short).
const NAME_SUFFIX: std::ops::Range<u32> = 1000..10_000;

/// A used sign-in link: where it asked to go afterwards, and how signing in went (the link
/// is used up either way; `MFA_REQUIRED` asks for the second step).
#[derive(Debug)]
pub struct LinkSignIn {
    pub return_to: Option<String>,
    pub outcome: AppResult<LoginOutcome>,
}

impl AuthService {
    /// Answers like `requestPasswordReset`: the same `true`, as fast, with the same limits,
    /// for every address; the lookup and the mail happen after the answer. Only `returnTo`,
    /// which says nothing about the address, is checked first.
    pub async fn request_sign_in_link(
        &self,
        email: &str,
        return_to: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let return_to = validate::return_to(&self.settings.public_url, return_to)?;
        let typed = email.trim().to_owned();
        let locale = client.locale.unwrap_or_default();
        self.mail_later(
            email,
            client,
            move |mailer, email_norm, client_ip| async move {
                mailer
                    .send_sign_in_link(&typed, &email_norm, return_to, locale, &client_ip)
                    .await
            },
        )
        .await
    }

    /// Uses up the request the link's token names, then signs in as `login` would.
    /// `INVALID_TOKEN` for a token that is unknown, used, expired or replaced by a newer request.
    pub async fn sign_in_with_link(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> AppResult<LinkSignIn> {
        self.throttle
            .check(Bucket::LoginClient, &client.key(), None, client)
            .await?;
        let Some(request) = self
            .store
            .take_sign_in_request(&token_hash(token), self.clock.now())
            .await?
        else {
            return Err(sign_in_refused(
                None,
                "link unknown, used or expired",
                client,
            ));
        };
        Ok(LinkSignIn {
            return_to: request.return_to.clone(),
            outcome: self.finish_email_sign_in(request, client).await,
        })
    }

    /// Like the link, with the address and the mailed code. Each try spends one of the
    /// request's attempts, right or wrong, and counts against the login limits as a password
    /// guess does; once the attempts are spent, the request (its link too) is dead.
    pub async fn sign_in_with_code(
        &self,
        email: &str,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        self.throttle
            .check(Bucket::LoginClient, &client.key(), None, client)
            .await?;
        let email_norm = email_key(email);
        let user = self.store.find_user_by_email(&email_norm).await?;
        let user_id = user.as_ref().map(|u| &u.id);
        // Keyed as `login` keys it, so codes and passwords share one budget per account.
        let account = user_id.map_or_else(|| format!("unknown:{email_norm}"), ToString::to_string);
        self.check_account_budget(&account, user_id, client).await?;
        let Some(request) = self
            .store
            .spend_sign_in_code(&email_norm, self.clock.now())
            .await?
        else {
            return Err(sign_in_refused(
                user_id,
                "no request with attempts left",
                client,
            ));
        };
        let right = self.links.check_sign_in_code(
            &email_norm,
            &request.token_hash,
            code,
            &request.code_hash,
        );
        if !right {
            return Err(sign_in_refused(user_id, "wrong code", client));
        }
        // Its link may have been used meanwhile: only one of them wins.
        if !self
            .store
            .remove_sign_in_request(&email_norm, &request.token_hash)
            .await?
        {
            return Err(sign_in_refused(user_id, "used meanwhile", client));
        }
        self.finish_email_sign_in(request, client).await
    }

    /// After a link or code proved the mailbox: the account, then the second factor when it
    /// has one, then a session as `login` starts.
    async fn finish_email_sign_in(
        &self,
        request: SignInRequestRecord,
        client: &ClientInfo,
    ) -> AppResult<LoginOutcome> {
        let user = self.account_for(&request, client).await?;
        if let Some(second_step) = self.second_factor_required(&user).await? {
            tracing::info!(target: "audit", event = "mfa_required", user_id = %user.id, client_ip = %client.key());
            return Err(second_step);
        }
        self.complete_login(user, client, SignInMethod::EmailLink)
            .await
    }

    /// The verified account the request signs in to, which must still have the address the
    /// link went to; with `SIGN_UP_BY_LINK`, an unverified one confirmed, or a new one made.
    async fn account_for(
        &self,
        request: &SignInRequestRecord,
        client: &ClientInfo,
    ) -> AppResult<UserRecord> {
        for _ in 0..ACCOUNT_ATTEMPTS {
            let found = match &request.user_id {
                Some(id) => self.store.find_user(id).await?,
                None => self.store.find_user_by_email(&request.email_norm).await?,
            };
            let found = found.filter(|u| {
                u.credentials
                    .as_ref()
                    .is_some_and(|c| c.email_norm == request.email_norm)
            });
            let settled = match found {
                Some(user) if user.is_active => Some(user),
                Some(user) if self.settings.sign_up_by_link => {
                    self.confirm_by_link(user, client).await?
                }
                None if request.user_id.is_none() && self.settings.sign_up_by_link => {
                    self.sign_up_by_link(request, client).await?
                }
                // Gone, given another address, or unverified while only verified accounts
                // may sign in this way.
                _ => {
                    return Err(sign_in_refused(
                        request.user_id.as_ref(),
                        "no account for the link",
                        client,
                    ));
                }
            };
            if let Some(user) = settled {
                return Ok(user);
            }
        }
        Err(AppError::internal(anyhow::anyhow!(
            "signing in by e-mail kept losing races for its account"
        )))
    }

    /// Confirms an unverified account's address. The link proves the mailbox, not who chose
    /// the password at sign-up (anyone can sign up with any address), so that password stops
    /// working: whoever signed up with someone else's address cannot log in once its owner
    /// confirms it. `None` when the account changed meanwhile.
    async fn confirm_by_link(
        &self,
        mut user: UserRecord,
        client: &ClientInfo,
    ) -> AppResult<Option<UserRecord>> {
        let Some(credentials) = user.credentials.as_mut() else {
            return Ok(None);
        };
        let unusable = PasswordHash::unusable();
        if !self
            .store
            .set_password_hash(&user.id, &credentials.password_hash, &unusable)
            .await?
        {
            return Ok(None);
        }
        credentials.password_hash = unusable;
        // `false` only when its own confirmation link won the race: active either way.
        self.store.activate_user(&user.id).await?;
        user.is_active = true;
        tracing::info!(target: "audit", event = "email_verified", method = "email_link", user_id = %user.id, client_ip = %client.key());
        Ok(Some(user))
    }

    /// Makes the verified account of an address nobody has: a username made from the address
    /// (free when looked at), a password nobody knows (`requestPasswordReset` sets one), the
    /// request's language. `None` when the name or the address was taken meanwhile.
    async fn sign_up_by_link(
        &self,
        request: &SignInRequestRecord,
        client: &ClientInfo,
    ) -> AppResult<Option<UserRecord>> {
        let username = self.free_username(request.email.as_str()).await?;
        let user = UserRecord {
            id: UserId::new_random(),
            username_norm: username.key(),
            username,
            credentials: Some(Credentials {
                email: request.email.clone(),
                email_norm: request.email_norm.clone(),
                password_hash: PasswordHash::unusable(),
            }),
            is_active: true,
            created_at: self.clock.now(),
            locale: request.locale,
            disabled: false,
        };
        match self.store.insert_user_replacing_pending(&user).await {
            Ok(_) => {
                tracing::info!(target: "audit", event = "signed_up", method = "email_link", user_id = %user.id, client_ip = %client.key());
                Ok(Some(user))
            }
            Err(StoreError::Conflict(UniqueField::Username | UniqueField::Email)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// A username for an account made without one: `wanted` (an address's local part, a
    /// provider's preferred name) cut to the characters usernames allow, unless an account
    /// (verified or not) has it or a look-alike; then with digits added; after a few tries,
    /// `user` and random digits. The store still decides a race.
    pub(in crate::auth) async fn free_username(&self, wanted: &str) -> AppResult<Username> {
        let local = wanted.split('@').next().unwrap_or_default();
        let room = USERNAME_LEN.end() - NAME_SUFFIX.end.to_string().len();
        let base: String = local
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .take(room)
            .collect();
        let base = if base.chars().any(|c| c.is_ascii_alphanumeric()) {
            base
        } else {
            "user".to_owned()
        };
        for attempt in 0..NAME_ATTEMPTS {
            let candidate = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}{}", rand::random_range(NAME_SUFFIX))
            };
            let Ok(name) = Username::parse(&candidate) else {
                continue;
            };
            if self
                .store
                .find_user_by_username(&name.key())
                .await?
                .is_none()
            {
                return Ok(name);
            }
        }
        let random = uuid::Uuid::new_v4().simple().to_string();
        Username::parse(&format!("user{}", &random[..12]))
    }
}

/// `INVALID_TOKEN`, audit-logged as a failed login (the reason, never the link or the code).
fn sign_in_refused(user: Option<&UserId>, reason: &str, client: &ClientInfo) -> AppError {
    tracing::info!(
        target: "audit",
        event = "login_failed",
        method = "email_link",
        user_id = user.map(ToString::to_string).unwrap_or_default(),
        reason,
        client_ip = %client.key()
    );
    AppError::InvalidToken
}
