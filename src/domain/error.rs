//! The one error type the domain speaks. The GraphQL layer maps each variant to the documented
//! `extensions.code`; nothing here knows about GraphQL.

use std::fmt;

/// A validation failure names the input field it is about, so clients can put the message next
/// to the right form control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
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
        message: &'static str,
    },
    /// A passkey login that did not prove who it is: unknown, used or expired challenge, or a
    /// credential that does not verify (`UNAUTHENTICATED`, with a message of its own).
    PasskeyNotAccepted,
    /// The cause is logged where the error becomes a response; clients only see "Internal error."
    Internal(anyhow::Error),
}

/// What a guest is told when it asks for something only an account with a password has.
pub const GUESTS_CANNOT: &str =
    "Guests have no password or second factor: sign up with upgradeGuest first.";

impl AppError {
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        AppError::BadUserInput(FieldError {
            field,
            message: message.into(),
        })
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into())
    }

    /// What the client reads: plain, and never anything internal.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Unauthenticated => "You must be logged in.".into(),
            AppError::TokenExpired => "The access token has expired; call refreshToken.".into(),
            AppError::SessionExpired => "Your session has ended; please log in again.".into(),
            AppError::InvalidCredentials => "Invalid username or password.".into(),
            AppError::EmailNotVerified => {
                "Confirm your e-mail address first: open the link we sent you.".into()
            }
            AppError::InvalidToken => "This link is invalid, expired or already used.".into(),
            AppError::BadUserInput(e) => e.message.clone(),
            AppError::Conflict { field } => format!("That {field} is already taken."),
            AppError::NotFound => "Not found.".into(),
            AppError::RateLimited { retry_after_secs } => {
                format!("Too many attempts; try again in {retry_after_secs} seconds.")
            }
            AppError::LlmUnavailable => {
                "The quiz generator is unavailable right now; try again later.".into()
            }
            AppError::MfaRequired { .. } => {
                "Enter the code from your authenticator app (or a recovery code) to finish \
                 logging in."
                    .into()
            }
            AppError::InvalidMfaCode => {
                "That code is not right, or was already used; log in again to get a new chance."
                    .into()
            }
            AppError::ReauthenticationRequired => {
                "Confirm it is you first: call reauthenticate with your password (and a code \
                 when two-factor login is on)."
                    .into()
            }
            AppError::AccountRequired { message } => (*message).into(),
            AppError::PasskeyNotAccepted => {
                "The passkey was not accepted (the challenge is unknown, used or expired, or the \
                 credential does not verify); start again with startPasskeyLogin."
                    .into()
            }
            AppError::Internal(_) => "Internal error.".into(),
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
