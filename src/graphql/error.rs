//! Turns domain errors into GraphQL errors carrying the documented `extensions.code`.

use async_graphql::{ErrorExtensions, Response, ServerError, Value};

use super::limits::LimitExceeded;
use crate::{
    auth::AuthService,
    domain::{AppError, ErrorCode, Locale, Message, UserId},
    i18n,
};

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(cause) = &err {
            tracing::error!(error = %format!("{cause:#}"), "internal error");
        }
        let code = err.code();
        let message = err.message();
        message_error(message).extend_with(|_, ext| {
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

/// An error saying `message`: in English until the edge knows who reads it (see [`localize`]);
/// the message travels along as the error's source.
pub fn message_error(message: Message) -> async_graphql::Error {
    async_graphql::Error {
        message: i18n::render(Locale::En, &message),
        source: Some(std::sync::Arc::new(message)),
        extensions: None,
    }
}

/// [`message_error`] with the documented `code`.
pub fn coded_error(code: ErrorCode, message: Message) -> async_graphql::Error {
    message_error(message).extend_with(|_, ext| ext.set("code", code.as_str()))
}

/// Errors async-graphql raises itself (syntax, validation, argument coercion) come without a
/// code; they are all about the request the client sent. Some quote what the client sent (an
/// enum value it does not know, an unknown input field), so every string of `variables` quoted
/// in them is blanked out: a password sent in the wrong place never comes back in an error.
/// Its complexity refusal becomes the documented limit error.
pub fn ensure_codes(mut response: Response, variables: &VariableStrings) -> Response {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            if let Some(exceeded) = LimitExceeded::from_validation(&error.message) {
                *error = exceeded.into();
                continue;
            }
            for secret in &variables.0 {
                let quoted = format!("\"{secret}\"");
                if error.message.contains(&quoted) {
                    error.message = error.message.replace(&quoted, "\"…\"");
                }
            }
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", Value::from(ErrorCode::BadUserInput.as_str()));
        }
    }
    response
}

/// Who reads a response: the caller (whose own choice of language wins) and the language the
/// request's `Accept-Language` prefers.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    pub user: Option<UserId>,
    pub accept_language: Option<Locale>,
}

/// Renders the domain's error messages in the reader's language: the user's `locale`, else
/// `Accept-Language`, else English (as they already are). The user is read only when an error
/// needs it, so a response without errors costs nothing.
pub async fn localize(response: Response, reader: &Reader, auth: &AuthService) -> Response {
    if !response
        .errors
        .iter()
        .any(|e| e.source::<Message>().is_some())
    {
        return response;
    }
    let preference = match &reader.user {
        Some(id) => auth.user(id).await.ok().flatten().map(|u| u.locale),
        None => None,
    };
    render_errors(
        response,
        Locale::resolve(preference, reader.accept_language),
    )
}

/// Renders in `locale` the errors that carry their [`Message`]: for refusals that come before
/// the caller is known, in the request's `Accept-Language`.
pub fn render_errors(mut response: Response, locale: Locale) -> Response {
    for error in &mut response.errors {
        render_error(error, locale);
    }
    response
}

/// Renders one error in `locale`, if it carries its [`Message`].
pub fn render_error(error: &mut ServerError, locale: Locale) {
    if locale != Locale::En
        && let Some(message) = error.source::<Message>()
    {
        error.message = i18n::render(locale, message);
    }
}

/// Every string in a request's variables, object keys included (longest first, so a value that
/// contains another is blanked whole).
#[derive(Debug, Default)]
pub struct VariableStrings(Vec<String>);

impl VariableStrings {
    pub fn of(variables: &async_graphql::Variables) -> Self {
        fn walk(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(s) => out.push(s.clone()),
                Value::Enum(name) => out.push(name.to_string()),
                Value::List(items) => items.iter().for_each(|v| walk(v, out)),
                Value::Object(fields) => fields.iter().for_each(|(k, v)| {
                    out.push(k.to_string());
                    walk(v, out)
                }),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for value in variables.values() {
            walk(value, &mut out);
        }
        out.retain(|s| !s.is_empty());
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        VariableStrings(out)
    }
}
