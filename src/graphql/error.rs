//! Turns domain errors into GraphQL errors carrying the documented `extensions.code`.

use async_graphql::{ErrorExtensions, Response, Value};

use crate::domain::{AppError, ErrorCode};

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(cause) = &err {
            tracing::error!(error = %format!("{cause:#}"), "internal error");
        }
        let code = err.code();
        let message = err.public_message();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            match &err {
                AppError::BadUserInput(e) => ext.set("field", e.field),
                AppError::Conflict { field } => ext.set("field", *field),
                AppError::RateLimited { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs)
                }
                AppError::MfaRequired { mfa_token } => ext.set("mfaToken", mfa_token.as_str()),
                _ => {}
            }
        })
    }
}

/// Errors async-graphql raises itself (syntax, validation, argument coercion) come without a
/// code; they are all about the request the client sent.
pub fn ensure_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", Value::from(ErrorCode::BadUserInput.as_str()));
        }
    }
    response
}
