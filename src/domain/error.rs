//! The one error type the domain speaks. The GraphQL layer maps each variant to the documented
//! `extensions.code`; nothing here knows about GraphQL.

use std::fmt;

use super::{Message, MessageKey};

/// A validation failure names the input field it is about, so clients can put the message next
/// to the right form control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: Message,
}

/// Deliberately not `Display`: the GraphQL layer converts it with its code attached, and without
/// `Display` a stray `?` cannot silently turn it into a code-less GraphQL error.
#[derive(Debug)]
pub enum AppError {
    Unauthenticated,
    TokenExpired,
    SessionExpired,
    InvalidCredentials,
    EmailNotVerified,
    /// An operator disabled the account: it cannot log in or refresh until enabled again.
    AccountDisabled,
    InvalidToken,
    BadUserInput(FieldError),
    Conflict {
        field: &'static str,
    },
    NotFound,
    RateLimited {
        retry_after_secs: u64,
    },
    LlmUnavailable,
    /// The password was right and the account has a second factor: finish with `verifyMfa`
    /// and this single-use token.
    MfaRequired {
        mfa_token: String,
    },
    InvalidMfaCode,
    /// A change to sign-in factors (or another sensitive one) without a recent proof of who
    /// the session is: call `reauthenticate` first.
    ReauthenticationRequired,
    /// The caller's kind of account cannot do this (a guest changing a password or turning
    /// on MFA; an account asking to sign up a guest): `UNAUTHENTICATED`, saying which account
    /// it needs.
    AccountRequired {
        message: MessageKey,
    },
    /// A passkey login that did not prove who it is: unknown, used or expired challenge, or a
    /// credential that does not verify (`UNAUTHENTICATED`, with a message of its own).
    PasskeyNotAccepted,
    /// The cause is logged where the error becomes a response; clients only see "Internal error."
    Internal(anyhow::Error),
}

/// What a guest is told when it asks for something only an account with a password has.
pub const GUESTS_CANNOT: MessageKey = MessageKey::GuestsCannot;

impl AppError {
    pub fn bad_input(field: &'static str, message: impl Into<Message>) -> Self {
        AppError::BadUserInput(FieldError {
            field,
            message: message.into(),
        })
    }

    /// The same error, about the input `field` when it is about an input at all: for a value
    /// parsed by a type that names its usual field (an [`EmailAddress`](super::EmailAddress)
    /// says `email`) where the API calls it otherwise.
    pub fn for_field(self, field: &'static str) -> Self {
        match self {
            AppError::BadUserInput(e) => AppError::BadUserInput(FieldError { field, ..e }),
            AppError::Conflict { .. } => AppError::Conflict { field },
            other => other,
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into())
    }

    /// What the client reads, to render in its language: plain, and never anything internal.
    pub fn message(&self) -> Message {
        use MessageKey as K;
        match self {
            AppError::Unauthenticated => K::Unauthenticated.into(),
            AppError::TokenExpired => K::TokenExpired.into(),
            AppError::SessionExpired => K::SessionExpired.into(),
            AppError::InvalidCredentials => K::InvalidCredentials.into(),
            AppError::EmailNotVerified => K::EmailNotVerified.into(),
            AppError::AccountDisabled => K::AccountDisabled.into(),
            AppError::InvalidToken => K::InvalidToken.into(),
            AppError::BadUserInput(e) => e.message.clone(),
            AppError::Conflict { field } => Message::new(K::AlreadyTaken).with("field", *field),
            AppError::NotFound => K::NotFound.into(),
            AppError::RateLimited { retry_after_secs } => {
                Message::new(K::RateLimited).with("seconds", *retry_after_secs)
            }
            AppError::LlmUnavailable => K::LlmUnavailable.into(),
            AppError::MfaRequired { .. } => K::MfaRequired.into(),
            AppError::InvalidMfaCode => K::InvalidMfaCode.into(),
            AppError::ReauthenticationRequired => K::ReauthenticationRequired.into(),
            AppError::AccountRequired { message } => (*message).into(),
            AppError::PasskeyNotAccepted => K::PasskeyNotAccepted.into(),
            AppError::Internal(_) => K::Internal.into(),
        }
    }

    /// The documented `extensions.code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Unauthenticated => ErrorCode::Unauthenticated,
            AppError::TokenExpired => ErrorCode::TokenExpired,
            AppError::SessionExpired => ErrorCode::SessionExpired,
            AppError::InvalidCredentials => ErrorCode::InvalidCredentials,
            AppError::EmailNotVerified => ErrorCode::EmailNotVerified,
            AppError::AccountDisabled => ErrorCode::AccountDisabled,
            AppError::InvalidToken => ErrorCode::InvalidToken,
            AppError::BadUserInput(_) => ErrorCode::BadUserInput,
            AppError::Conflict { .. } => ErrorCode::Conflict,
            AppError::NotFound => ErrorCode::NotFound,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::LlmUnavailable => ErrorCode::LlmUnavailable,
            AppError::MfaRequired { .. } => ErrorCode::MfaRequired,
            AppError::InvalidMfaCode => ErrorCode::InvalidMfaCode,
            AppError::ReauthenticationRequired => ErrorCode::ReauthenticationRequired,
            AppError::AccountRequired { .. } => ErrorCode::Unauthenticated,
            AppError::PasskeyNotAccepted => ErrorCode::Unauthenticated,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    Unauthenticated,
    TokenExpired,
    SessionExpired,
    InvalidCredentials,
    EmailNotVerified,
    AccountDisabled,
    InvalidToken,
    BadUserInput,
    Conflict,
    NotFound,
    RateLimited,
    LlmUnavailable,
    MfaRequired,
    InvalidMfaCode,
    ReauthenticationRequired,
    /// `TRUSTED_DOCUMENTS=enforce` and the request sent free text.
    OperationNotTrusted,
    /// The request named a trusted document that is not in the manifest.
    PersistedQueryNotFound,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub type AppResult<T> = Result<T, AppError>;
