//! Typed access to what each request carries: the credentials the HTTP layer found and the
//! services the schema was built with.

use std::sync::OnceLock;

use async_graphql::Context;

use crate::{
    auth::{AuthService, Claims},
    domain::AppError,
    domain::{ClientInfo, Locale, Message},
    graphql::cookies::CookiePolicy,
    quiz::{QuizService, materials::MaterialService},
    ratelimit::RequestBudget,
};

/// The caller's credentials, as sent: the access token (Bearer header before cookie) and the
/// user agent, and who they turned out to name. That is settled once per request, before the
/// operation runs, so resolvers and guards read it synchronously; operations that need no
/// login never look, so a stale cookie does not stop anyone from logging in again.
#[derive(Clone)]
pub struct RequestAuth {
    access_token: Option<String>,
    client: ClientInfo,
    caller: Caller,
}

#[derive(Clone)]
enum Caller {
    /// No token was sent.
    Anonymous,
    Known(Claims),
    /// A token was sent but names no one usable; the answer for operations that need someone.
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy)]
enum Refusal {
    Unauthenticated,
    TokenExpired,
    SessionExpired,
    /// The store could not say whether the session still exists: fail closed.
    Unchecked,
}

impl Refusal {
    fn error(self) -> AppError {
        match self {
            Refusal::Unauthenticated => AppError::Unauthenticated,
            Refusal::TokenExpired => AppError::TokenExpired,
            Refusal::SessionExpired => AppError::SessionExpired,
            Refusal::Unchecked => {
                AppError::internal(anyhow::anyhow!("the session could not be checked"))
            }
        }
    }
}

impl RequestAuth {
    /// Verifies the token, if any, and checks that its session has not ended.
    pub async fn check(
        access_token: Option<String>,
        client: ClientInfo,
        auth: &AuthService,
    ) -> Self {
        let caller = match &access_token {
            None => Caller::Anonymous,
            Some(token) => match auth.authenticate(token).await {
                Ok(claims) => Caller::Known(claims),
                Err(AppError::Unauthenticated) => Caller::Refused(Refusal::Unauthenticated),
                Err(AppError::TokenExpired) => Caller::Refused(Refusal::TokenExpired),
                Err(AppError::SessionExpired) => Caller::Refused(Refusal::SessionExpired),
                Err(other) => {
                    tracing::error!(error = ?other, "could not check the session");
                    Caller::Refused(Refusal::Unchecked)
                }
            },
        };
        RequestAuth {
            access_token,
            client,
            caller,
        }
    }

    fn anonymous() -> Self {
        RequestAuth {
            access_token: None,
            client: ClientInfo::default(),
            caller: Caller::Anonymous,
        }
    }

    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_deref()
    }

    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    /// `None` when no token was sent; an error when one was sent but is not usable.
    pub fn caller(&self) -> Result<Option<&Claims>, AppError> {
        match &self.caller {
            Caller::Anonymous => Ok(None),
            Caller::Known(claims) => Ok(Some(claims)),
            Caller::Refused(refusal) => Err(refusal.error()),
        }
    }
}

/// The language the request's `Accept-Language` prefers, for messages to a reader the server
/// does not know yet (or no longer: after logout).
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserLocale(pub Option<Locale>);

pub trait ContextExt {
    fn auth_service(&self) -> &AuthService;
    fn quiz_service(&self) -> &QuizService;
    fn material_service(&self) -> &MaterialService;
    fn cookie_policy(&self) -> &CookiePolicy;
    fn request_auth(&self) -> &RequestAuth;
    /// What this request may still spend on expensive calls.
    fn request_budget(&self) -> &RequestBudget;
    /// `None` when no token was sent; an error when one was sent but is not usable.
    fn optional_claims(&self) -> Result<Option<&Claims>, AppError>;
    /// `message` in the language `Accept-Language` prefers (English without one).
    fn say_to_browser(&self, message: &Message) -> String;
    /// The logged-in caller, or `UNAUTHENTICATED` / `TOKEN_EXPIRED` / `SESSION_EXPIRED`.
    fn claims(&self) -> Result<&Claims, AppError> {
        self.optional_claims()?.ok_or(AppError::Unauthenticated)
    }
}

impl ContextExt for Context<'_> {
    fn auth_service(&self) -> &AuthService {
        self.data_unchecked::<std::sync::Arc<AuthService>>()
    }

    fn quiz_service(&self) -> &QuizService {
        self.data_unchecked::<std::sync::Arc<QuizService>>()
    }

    fn material_service(&self) -> &MaterialService {
        self.data_unchecked::<std::sync::Arc<MaterialService>>()
    }

    fn cookie_policy(&self) -> &CookiePolicy {
        self.data_unchecked::<CookiePolicy>()
    }

    fn request_auth(&self) -> &RequestAuth {
        static ANONYMOUS: OnceLock<RequestAuth> = OnceLock::new();
        self.data_opt::<RequestAuth>()
            .unwrap_or_else(|| ANONYMOUS.get_or_init(RequestAuth::anonymous))
    }

    fn request_budget(&self) -> &RequestBudget {
        // A request that was not given a budget gets none.
        static SPENT: RequestBudget = RequestBudget::spent();
        self.data_opt::<RequestBudget>().unwrap_or(&SPENT)
    }

    fn optional_claims(&self) -> Result<Option<&Claims>, AppError> {
        self.request_auth().caller()
    }

    fn say_to_browser(&self, message: &Message) -> String {
        let locale = self.data_opt::<BrowserLocale>().and_then(|l| l.0);
        crate::i18n::render(Locale::resolve(None, locale), message)
    }
}
