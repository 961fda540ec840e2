//! Sign-in through OpenID Connect providers (authorization code with PKCE), with the
//! `openidconnect` crate: discovery and keys from the issuer, the code exchange, and the ID
//! token's checks (signature, `iss`, `aud`, `exp` on our clock, `nonce`). The identity is the
//! issuer and subject; an e-mail address links accounts only when both sides verified it.

use std::{future::Future, pin::Pin, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::{
    AsyncHttpClient, AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
    core::{CoreClient, CoreIdTokenClaims, CoreProviderMetadata},
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::{AuthService, AuthSettings, service::LoginOutcome, tokens::chrono_duration};
use crate::{
    domain::{
        AppError, AppResult, ClientInfo, Credentials, EmailAddress, FieldError, Message,
        MessageKey, PasswordHash, SignInMethod, SocialLinkRecord, SocialLoginRecord, UserId,
        UserRecord, sha256_hex,
    },
    ratelimit::Bucket,
};

/// A client built from a provider's discovery document: its authorization endpoint is known,
/// its token and userinfo endpoints are if the document names them.
type ProviderClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long a started sign-in waits for the provider to send the browser back.
const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// How long discovery and keys are kept before they are fetched again (sooner when an ID
/// token names a key the kept set lacks: the provider rotated its keys).
const METADATA_TTL: Duration = Duration::from_secs(60 * 60);
/// Every call to a provider is bounded.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// `OIDC_*`: the providers offered for sign-in. Each named provider is configured by
/// `OIDC_<NAME>_ISSUER`, `OIDC_<NAME>_CLIENT_ID`, `OIDC_<NAME>_CLIENT_SECRET`, and optionally
/// `OIDC_<NAME>_SCOPES` and `OIDC_<NAME>_DISPLAY_NAME`, read at start-up.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OidcSettings {
    /// OpenID Connect providers to offer, by name, comma-separated (e.g. google,kakao,corp);
    /// each needs OIDC_<NAME>_ISSUER, OIDC_<NAME>_CLIENT_ID and OIDC_<NAME>_CLIENT_SECRET.
    #[arg(long, env = "OIDC_PROVIDERS", value_delimiter = ',')]
    pub oidc_providers: Vec<String>,
    /// Origins besides PUBLIC_URL's that a social sign-in's `returnTo` may lead to,
    /// comma-separated (e.g. https://app.example.com).
    #[arg(long, env = "OIDC_RETURN_ORIGINS", value_delimiter = ',')]
    pub oidc_return_origins: Vec<String>,
    /// Providers given whole (tests); added to the named ones.
    #[arg(skip)]
    pub oidc_provider_configs: Vec<ProviderConfig>,
}

/// One provider's settings.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Lower-case, as in `OIDC_PROVIDERS` and the callback's path.
    pub name: String,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
}

impl OidcSettings {
    /// The named providers, read from `env`, and the ones given whole.
    pub fn providers(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Vec<ProviderConfig>> {
        let mut configs = Vec::new();
        for name in self
            .oidc_providers
            .iter()
            .map(|n| n.trim().to_ascii_lowercase())
        {
            if name.is_empty() {
                continue;
            }
            anyhow::ensure!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "OIDC_PROVIDERS: {name:?} is not a provider name (letters, digits and _)"
            );
            let var = |field: &str| format!("OIDC_{}_{field}", name.to_ascii_uppercase());
            let required = |field: &str| {
                env(&var(field))
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| anyhow::anyhow!("{} is not set", var(field)))
            };
            configs.push(ProviderConfig {
                issuer: required("ISSUER")?,
                client_id: required("CLIENT_ID")?,
                client_secret: SecretString::from(required("CLIENT_SECRET")?),
                scopes: env(&var("SCOPES"))
                    .unwrap_or_else(|| "openid email profile".into())
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                display_name: env(&var("DISPLAY_NAME")).unwrap_or_else(|| name.clone()),
                name,
            });
        }
        configs.extend(self.oidc_provider_configs.iter().cloned());
        Ok(configs)
    }
}

/// The configured providers, their discovered metadata, and where sign-ins may return to.
pub struct SocialProviders {
    providers: Vec<Provider>,
    http: ProviderHttp,
    public_url: String,
    return_origins: Vec<String>,
}

struct Provider {
    config: ProviderConfig,
    /// Discovery and keys, and when they were fetched.
    metadata: Mutex<Option<(CoreProviderMetadata, std::time::Instant)>>,
}

impl SocialProviders {
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        let configs = settings.oidc.providers(|k| std::env::var(k).ok())?;
        let mut providers: Vec<Provider> = Vec::new();
        for config in configs {
            anyhow::ensure!(
                !providers.iter().any(|p| p.config.name == config.name),
                "OIDC provider {:?} is configured twice",
                config.name
            );
            IssuerUrl::new(config.issuer.clone()).map_err(|e| {
                anyhow::anyhow!(
                    "OIDC_{}_ISSUER is not a URL: {e}",
                    config.name.to_uppercase()
                )
            })?;
            providers.push(Provider {
                config,
                metadata: Mutex::new(None),
            });
        }
        let mut return_origins = vec![
            origin_of(&settings.public_url)
                .ok_or_else(|| anyhow::anyhow!("PUBLIC_URL has no origin"))?,
        ];
        for origin in &settings.oidc.oidc_return_origins {
            return_origins.push(origin_of(origin.trim()).ok_or_else(|| {
                anyhow::anyhow!("OIDC_RETURN_ORIGINS: {origin:?} is not an http(s) origin")
            })?);
        }
        Ok(SocialProviders {
            providers,
            http: ProviderHttp::new()?,
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
            return_origins,
        })
    }

    /// Name and display name of each provider, in configuration order.
    pub fn list(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| (p.config.name.clone(), p.config.display_name.clone()))
            .collect()
    }

    fn provider(&self, name: &str) -> AppResult<&Provider> {
        self.providers
            .iter()
            .find(|p| p.config.name == name)
            .ok_or_else(|| {
                AppError::bad_input(
                    "provider",
                    Message::new(MessageKey::SocialProviderUnknown).with("provider", name),
                )
            })
    }

    /// `returnTo` as given, if it is an absolute http(s) URL on an allowed origin.
    fn check_return_to(&self, return_to: &str) -> AppResult<String> {
        let refused = || AppError::bad_input("returnTo", MessageKey::SocialReturnTo);
        let url = url::Url::parse(return_to.trim()).map_err(|_| refused())?;
        let origin = url.origin().ascii_serialization();
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
            || !self.return_origins.contains(&origin)
        {
            return Err(refused());
        }
        Ok(url.to_string())
    }

    fn redirect_url(&self, provider: &str) -> RedirectUrl {
        RedirectUrl::new(format!("{}/auth/oidc/{provider}/callback", self.public_url))
            .expect("PUBLIC_URL is a URL")
    }

    /// The provider's metadata: kept, or fetched again when older than [`METADATA_TTL`] or when
    /// `stale` (an ID token named a key the kept set lacks).
    async fn metadata(&self, provider: &Provider, stale: bool) -> AppResult<CoreProviderMetadata> {
        let mut kept = provider.metadata.lock().await;
        if let Some((metadata, at)) = kept.as_ref()
            && !stale
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(provider.config.issuer.clone())
            .map_err(|e| AppError::internal(anyhow::anyhow!("issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                AppError::internal(anyhow::anyhow!(
                    "OpenID Connect discovery of {} failed: {e}",
                    provider.config.name
                ))
            })?;
        *kept = Some((metadata.clone(), std::time::Instant::now()));
        Ok(metadata)
    }

    fn client(&self, provider: &Provider, metadata: CoreProviderMetadata) -> ProviderClient {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.config.client_id.clone()),
            Some(ClientSecret::new(
                provider.config.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(self.redirect_url(&provider.config.name))
    }
}

/// Why a social sign-in ended without a session, as the `error` query parameter of the
/// redirect to `returnTo` names it (see docs/api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum SocialFailure {
    /// The state is unknown, used or expired (a replayed or forged callback).
    InvalidState,
    /// The provider answered with an error (the person cancelled, or it refused the client).
    AccessDenied,
    /// The provider could not be reached, or refused the code.
    ProviderError,
    /// The ID token failed a check: signature, issuer, audience, expiry or nonce.
    InvalidIdToken,
    /// A first sign-in whose provider did not confirm the address: no account is made.
    EmailUnverified,
    /// An account has this address, and one side has not verified it: log in there and link.
    AccountExists,
    /// The identity is linked to another account already (linking).
    AlreadyLinked,
    /// The account linking has a link to this provider already.
    ProviderAlreadyLinked,
    /// The account has two-factor login on: finish with `verifyMfa` and the `mfaToken`.
    MfaRequired,
    RateLimited,
    /// Anything else (logged).
    ServerError,
}

impl SocialFailure {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// How a callback ended: where the browser goes, and the session or why there is none.
pub struct SocialOutcome {
    /// `returnTo`, or `PUBLIC_URL` when the state named no sign-in.
    pub return_to: String,
    pub result: Result<SocialSuccess, (SocialFailure, Option<String>)>,
}

pub enum SocialSuccess {
    LoggedIn(LoginOutcome),
    /// `linkSocialAccount` finished: the caller's session is unchanged.
    Linked,
}

/// What the provider sent back to the callback.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// A random, URL-safe secret of 32 bytes.
fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

impl AuthService {
    /// The providers a login page may list.
    pub fn social_providers(&self) -> Vec<(String, String)> {
        self.social.list()
    }

    /// Starts a sign-in with `provider` (or, for `link_to`, a link of that account to it):
    /// the URL to send the browser to.
    pub async fn start_social_login(
        &self,
        provider: &str,
        return_to: &str,
        link_to: Option<&UserId>,
        client: &ClientInfo,
    ) -> AppResult<String> {
        self.throttle
            .check(Bucket::LoginClient, &client.key(), None, client)
            .await?;
        let social = &self.social;
        let provider = social.provider(provider)?;
        let return_to = social.check_return_to(return_to)?;
        let metadata = social.metadata(provider, false).await?;
        let (state, nonce) = (random_secret(), random_secret());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = social.client(provider, metadata);
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
                {
                    let state = state.clone();
                    move || CsrfToken::new(state)
                },
                {
                    let nonce = nonce.clone();
                    move || Nonce::new(nonce)
                },
            )
            .set_pkce_challenge(challenge);
        for scope in provider.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        self.store
            .insert_social_login(&SocialLoginRecord {
                state_hash: sha256_hex(state.as_bytes()),
                provider: provider.config.name.clone(),
                nonce,
                pkce_verifier: verifier.secret().clone(),
                return_to,
                link_to: link_to.cloned(),
                expires_at: self.clock.now() + chrono_duration(LOGIN_TTL),
            })
            .await?;
        Ok(url.to_string())
    }

    /// `linkSocialAccount`: like a sign-in, for the caller's own account, after a recent
    /// proof of who they are.
    pub async fn start_social_link(
        &self,
        claims: &super::Claims,
        provider: &str,
        return_to: &str,
        client: &ClientInfo,
    ) -> AppResult<String> {
        let user = self.recently_authenticated(claims).await?;
        self.start_social_login(provider, return_to, Some(&user.id), client)
            .await
    }

    /// `GET /auth/oidc/<provider>/callback`: checks the answer and logs the person in (or
    /// links the identity). Failures name a [`SocialFailure`]; nothing is ever half done.
    pub async fn finish_social_login(
        &self,
        provider: &str,
        params: CallbackParams,
        client: &ClientInfo,
    ) -> SocialOutcome {
        let home = format!("{}/", self.social.public_url);
        let failed = |return_to: String, failure: SocialFailure| SocialOutcome {
            return_to,
            result: Err((failure, None)),
        };
        if self
            .throttle
            .check(Bucket::LoginClient, &client.key(), None, client)
            .await
            .is_err()
        {
            return failed(home, SocialFailure::RateLimited);
        }
        let Some(state) = params.state.as_deref().filter(|s| !s.is_empty()) else {
            return failed(home, SocialFailure::InvalidState);
        };
        let login = match self
            .store
            .take_social_login(&sha256_hex(state.as_bytes()), self.clock.now())
            .await
        {
            Ok(Some(login)) if login.provider == provider => login,
            Ok(_) => return failed(home, SocialFailure::InvalidState),
            Err(err) => {
                tracing::error!(error = %err, "reading a social sign-in failed");
                return failed(home, SocialFailure::ServerError);
            }
        };
        let return_to = login.return_to.clone();
        let result = match self.social_identity(&login, &params).await {
            Ok(claims) => self.sign_in_with(&login, &claims, client).await,
            Err(failure) => Err((failure, None)),
        };
        if let Err((failure, _)) = &result {
            tracing::info!(target: "audit", event = "social_sign_in_failed", provider = %login.provider, reason = failure.as_str(), client_ip = %client.key());
        }
        SocialOutcome { return_to, result }
    }

    /// The ID token's claims, once the code is exchanged and every check holds.
    async fn social_identity(
        &self,
        login: &SocialLoginRecord,
        params: &CallbackParams,
    ) -> Result<CoreIdTokenClaims, SocialFailure> {
        if params.error.is_some() {
            return Err(SocialFailure::AccessDenied);
        }
        let code = params
            .code
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or(SocialFailure::ProviderError)?;
        let social = &self.social;
        let provider = social
            .provider(&login.provider)
            .map_err(|_| SocialFailure::InvalidState)?;
        let metadata = social
            .metadata(provider, false)
            .await
            .map_err(|_| SocialFailure::ProviderError)?;
        let client = social.client(provider, metadata);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| {
                tracing::warn!(provider = %login.provider, error = %e, "the provider has no token endpoint");
                SocialFailure::ProviderError
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&social.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %login.provider, error = %e, "the code exchange failed");
                SocialFailure::ProviderError
            })?;
        let id_token = tokens.id_token().ok_or(SocialFailure::InvalidIdToken)?;
        let nonce = Nonce::new(login.nonce.clone());
        let now = self.clock.now();
        let verify = |client: &ProviderClient| {
            id_token
                .claims(&client.id_token_verifier().set_time_fn(move || now), &nonce)
                .cloned()
        };
        let rejected = |err: ClaimsVerificationError| {
            tracing::warn!(provider = %login.provider, error = %err, "an ID token failed its checks");
            SocialFailure::InvalidIdToken
        };
        match verify(&client) {
            Ok(claims) => Ok(claims),
            // Only a signature the kept keys cannot check is worth fetching them again for:
            // the provider may have rotated its keys. A wrong nonce or audience is not.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let fresh = social
                    .metadata(provider, true)
                    .await
                    .map_err(|_| SocialFailure::ProviderError)?;
                verify(&social.client(provider, fresh)).map_err(rejected)
            }
            Err(err) => Err(rejected(err)),
        }
    }

    /// Logs in the account linked to the identity, makes one, links one by a verified
    /// address, or (for `linkSocialAccount`) links the identity to the caller's account.
    async fn sign_in_with(
        &self,
        login: &SocialLoginRecord,
        claims: &CoreIdTokenClaims,
        client: &ClientInfo,
    ) -> Result<SocialSuccess, (SocialFailure, Option<String>)> {
        let server_error = |err: AppError| {
            if let AppError::Internal(cause) = &err {
                tracing::error!(error = %format!("{cause:#}"), "social sign-in failed");
            }
            (SocialFailure::ServerError, None)
        };
        let issuer = claims.issuer().as_str().to_owned();
        let subject = claims.subject().as_str().to_owned();
        let verified_email = claims
            .email()
            .filter(|_| claims.email_verified() == Some(true))
            .map(|e| e.as_str().to_owned());
        let link = |user_id: &UserId| SocialLinkRecord {
            user_id: user_id.clone(),
            provider: login.provider.clone(),
            issuer: issuer.clone(),
            subject: subject.clone(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            linked_at: self.clock.now(),
        };
        let linked = self
            .store
            .find_social_link(&issuer, &subject)
            .await
            .map_err(|e| server_error(e.into()))?;

        if let Some(owner) = &login.link_to {
            return match linked {
                Some(l) if &l.user_id == owner => Ok(SocialSuccess::Linked),
                Some(_) => Err((SocialFailure::AlreadyLinked, None)),
                None => {
                    if !self
                        .store
                        .insert_social_link(&link(owner))
                        .await
                        .map_err(|e| server_error(e.into()))?
                    {
                        return Err((SocialFailure::ProviderAlreadyLinked, None));
                    }
                    tracing::info!(target: "audit", event = "social_account_linked", user_id = %owner, provider = %login.provider, client_ip = %client.key());
                    Ok(SocialSuccess::Linked)
                }
            };
        }

        let user = match linked {
            Some(l) => self
                .store
                .find_user(&l.user_id)
                .await
                .map_err(|e| server_error(e.into()))?
                .ok_or((SocialFailure::ServerError, None))?,
            None => {
                let Some(email) = verified_email else {
                    return Err((SocialFailure::EmailUnverified, None));
                };
                let email = EmailAddress::parse(&email)
                    .map_err(|_| (SocialFailure::EmailUnverified, None))?;
                let existing = self
                    .store
                    .find_user_by_email(&email.key())
                    .await
                    .map_err(|e| server_error(e.into()))?;
                let user = match existing {
                    // Both sides verified the address: the same person.
                    Some(user) if user.is_active => user,
                    Some(_) => return Err((SocialFailure::AccountExists, None)),
                    None => self
                        .social_account(email, claims, client)
                        .await
                        .map_err(server_error)?,
                };
                if !self
                    .store
                    .insert_social_link(&link(&user.id))
                    .await
                    .map_err(|e| server_error(e.into()))?
                {
                    return Err((SocialFailure::ProviderAlreadyLinked, None));
                }
                tracing::info!(target: "audit", event = "social_account_linked", user_id = %user.id, provider = %login.provider, client_ip = %client.key());
                user
            }
        };
        match self.second_factor_required(&user).await {
            Ok(None) => {}
            Ok(Some(AppError::MfaRequired { mfa_token })) => {
                tracing::info!(target: "audit", event = "mfa_required", user_id = %user.id, client_ip = %client.key());
                return Err((SocialFailure::MfaRequired, Some(mfa_token)));
            }
            Ok(Some(other)) | Err(other) => return Err(server_error(other)),
        }
        self.complete_login_with(user, client, SignInMethod::Social, Some(&login.provider))
            .await
            .map(SocialSuccess::LoggedIn)
            .map_err(server_error)
    }

    /// A new account for a first sign-in with a verified address: a username made from what
    /// the provider calls the person (changeable later), no password until one is set.
    async fn social_account(
        &self,
        email: EmailAddress,
        claims: &CoreIdTokenClaims,
        client: &ClientInfo,
    ) -> AppResult<UserRecord> {
        self.throttle
            .check(Bucket::SignUpClient, &client.key(), None, client)
            .await?;
        let wanted = claims
            .preferred_username()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_else(|| email.as_str().to_owned());
        // A name found free can still be taken before the insert: then look again.
        for _ in 0..3 {
            let username = self.free_username(&wanted).await?;
            let user = UserRecord {
                id: UserId::new_random(),
                username_norm: username.key(),
                username,
                credentials: Some(Credentials {
                    email_norm: email.key(),
                    email: email.clone(),
                    password_hash: PasswordHash::unusable(),
                }),
                is_active: true,
                created_at: self.clock.now(),
                locale: client.locale.unwrap_or_default(),
                disabled: false,
            };
            match self.store.insert_user_replacing_pending(&user).await {
                Ok(_) => {
                    tracing::info!(target: "audit", event = "signed_up", method = "social", user_id = %user.id, client_ip = %client.key());
                    return Ok(user);
                }
                Err(crate::store::StoreError::Conflict(crate::store::UniqueField::Username)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Err(AppError::internal(anyhow::anyhow!(
            "no free username for a social sign-up after 3 tries"
        )))
    }

    /// The caller's links, oldest first.
    pub async fn social_links(&self, user: &UserId) -> AppResult<Vec<SocialLinkRecord>> {
        Ok(self.store.list_social_links(user).await?)
    }

    /// Removes the caller's link to `provider`, unless it is their last way to sign in (no
    /// password, no verified address, no passkey, no other link).
    pub async fn unlink_social_account(
        &self,
        claims: &super::Claims,
        provider: &str,
        client: &ClientInfo,
    ) -> AppResult<bool> {
        let user = self.recently_authenticated(claims).await?;
        let links = self.store.list_social_links(&user.id).await?;
        if !links.iter().any(|l| l.provider == provider) {
            return Err(AppError::NotFound);
        }
        // A verified address always signs in by e-mail (`requestSignInLink`).
        let other_ways = user.password_hash().is_some()
            || (user.is_active && user.email().is_some())
            || links.len() > 1
            || !self.store.list_passkeys(&user.id).await?.is_empty();
        if !other_ways {
            return Err(AppError::BadUserInput(FieldError {
                field: "provider",
                message: MessageKey::SocialLastWayIn.into(),
            }));
        }
        let removed = self.store.delete_social_link(&user.id, provider).await?;
        if removed {
            tracing::info!(target: "audit", event = "social_account_unlinked", user_id = %user.id, provider, client_ip = %client.key());
        }
        Ok(removed)
    }
}

/// `scheme://host[:port]` of an http(s) URL, as browsers serialise origins.
fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

/// Calls to providers: reqwest with our TLS setup, no redirects followed (a provider's
/// endpoints are named by its discovery document), every call bounded.
struct ProviderHttp(reqwest::Client);

impl ProviderHttp {
    fn new() -> anyhow::Result<Self> {
        Ok(ProviderHttp(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(PROVIDER_TIMEOUT)
                .build()?,
        ))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("request to the OpenID provider failed: {0}")]
pub struct ProviderHttpError(String);

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = ProviderHttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<HttpResponse, ProviderHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| ProviderHttpError(e.without_url().to_string()))?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| ProviderHttpError(e.without_url().to_string()))?;
            builder
                .body(body.to_vec())
                .map_err(|e| ProviderHttpError(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_come_from_their_variables() {
        let settings = OidcSettings {
            oidc_providers: vec!["Google".into(), " kakao".into()],
            ..Default::default()
        };
        let env = |k: &str| {
            Some(
                match k {
                    "OIDC_GOOGLE_ISSUER" => "https://accounts.google.com",
                    "OIDC_KAKAO_ISSUER" => "https://kauth.kakao.com",
                    "OIDC_KAKAO_SCOPES" => "openid account_email",
                    "OIDC_KAKAO_DISPLAY_NAME" => "카카오",
                    k if k.ends_with("_CLIENT_ID") || k.ends_with("_CLIENT_SECRET") => "x",
                    _ => return None,
                }
                .to_owned(),
            )
        };
        let providers = settings.providers(env).unwrap();
        assert_eq!(providers[0].name, "google");
        assert_eq!(providers[0].display_name, "google");
        assert_eq!(providers[0].scopes, ["openid", "email", "profile"]);
        assert_eq!(providers[1].display_name, "카카오");
        assert_eq!(providers[1].scopes, ["openid", "account_email"]);
        let missing = OidcSettings {
            oidc_providers: vec!["corp".into()],
            ..Default::default()
        };
        let err = missing.providers(|_| None).unwrap_err().to_string();
        assert!(err.contains("OIDC_CORP_ISSUER"), "{err}");
    }
}
