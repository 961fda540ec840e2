//! Typed access to what each request carries: the credentials the HTTP layer found and the
//! services the schema was built with.

use std::sync::OnceLock;

use async_graphql::Context;

use crate::{
    auth::{AuthService, Claims, ClientInfo, TokenError},
    domain::AppError,
    graphql::cookies::CookiePolicy,
    quiz::{QuizService, RequestBudget},
};

/// The caller's credentials, as sent: the access token (Bearer header before cookie) and the
/// user agent. The token is verified at most once per request, on first use.
pub struct RequestAuth {
    access_token: Option<String>,
    client: ClientInfo,
    verified: OnceLock<Result<Claims, TokenError>>,
}

impl RequestAuth {
    pub fn new(access_token: Option<String>, client: ClientInfo) -> Self {
        RequestAuth {
            access_token,
            client,
            verified: OnceLock::new(),
        }
    }

    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_deref()
    }

    pub fn client(&self) -> &ClientInfo {
        &self.client
    }
}

pub trait ContextExt {
    fn auth_service(&self) -> &AuthService;
    fn quiz_service(&self) -> &QuizService;
    fn cookie_policy(&self) -> &CookiePolicy;
    fn request_auth(&self) -> &RequestAuth;
    /// What this request may still spend on expensive calls.
    fn request_budget(&self) -> &RequestBudget;
    /// `None` when no token was sent; an error when one was sent but is not usable.
    fn optional_claims(&self) -> Result<Option<&Claims>, AppError>;
    /// The logged-in caller, or `UNAUTHENTICATED` / `TOKEN_EXPIRED`.
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

    fn cookie_policy(&self) -> &CookiePolicy {
        self.data_unchecked::<CookiePolicy>()
    }

    fn request_auth(&self) -> &RequestAuth {
        static ANONYMOUS: OnceLock<RequestAuth> = OnceLock::new();
        self.data_opt::<RequestAuth>().unwrap_or_else(|| {
            ANONYMOUS.get_or_init(|| RequestAuth::new(None, ClientInfo::default()))
        })
    }

    fn request_budget(&self) -> &RequestBudget {
        // A request that was not given a budget gets none.
        static SPENT: RequestBudget = RequestBudget::spent();
        self.data_opt::<RequestBudget>().unwrap_or(&SPENT)
    }

    fn optional_claims(&self) -> Result<Option<&Claims>, AppError> {
        let auth = self.request_auth();
        let Some(token) = auth.access_token() else {
            return Ok(None);
        };
        match auth
            .verified
            .get_or_init(|| self.auth_service().verify_access(token))
        {
            Ok(claims) => Ok(Some(claims)),
            Err(TokenError::Expired(_)) => Err(AppError::TokenExpired),
            Err(TokenError::Invalid) => Err(AppError::Unauthenticated),
        }
    }
}
