//! What a person reads, said once in every language: a [`MessageKey`] into the catalogues under
//! `locales/` and the values it quotes. The domain names the message; the edge (GraphQL, mail,
//! pages) renders it in the reader's [`Locale`](super::Locale), so no service needs to know who
//! reads its errors.

/// Every message the code can show. The kebab-case name is the catalogue's key; a test fails
/// when a catalogue lacks one of these or holds a key that is not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "kebab-case")]
pub enum MessageKey {
    /// Text that is not in the catalogues yet, shown as it is (`$text`) in every language.
    Verbatim,
    Unauthenticated,
    TokenExpired,
    SessionExpired,
    InvalidCredentials,
    EmailNotVerified,
    AccountDisabled,
    InvalidToken,
    AlreadyTaken,
    NotFound,
    RateLimited,
    LlmUnavailable,
    MfaRequired,
    InvalidMfaCode,
    ReauthenticationRequired,
    PasskeyNotAccepted,
    Internal,
    GuestsCannot,
    OnlyGuestsUpgrade,
    PasswordLength,
    PasswordContainsUsername,
    PasswordTooWeak,
    PasswordBreached,
    BreachCheckUnavailable,
    PasswordNeeded,
    CodeNeeded,
    TotpAlreadyOn,
    NoTotpEnrollment,
    PasskeyNameInvalid,
    CredentialMalformed,
    RegistrationUnknown,
    RegistrationNotVerified,
    PasskeyAlreadyRegistered,
    SocialProviderUnknown,
    SocialReturnTo,
    SocialLastWayIn,
    DeleteAccountConfirmMismatch,
    NoQuery,
    RequestNotCsrfSafe,
    RequestBodyTooLarge,
    RequestBodyUnreadable,
    RequestUnreadable,
    RequestBatched,
    MutationNeedsPost,
    NotWebsocketUpgrade,
    WebsocketOrigin,
    WebsocketProtocol,
    OperationNotTrusted,
    PersistedQueryNotFound,
    LimitOperationName,
    LimitTokens,
    LimitAliases,
    LimitRootFields,
    LimitDepth,
    LimitFields,
    LimitPagedComplexity,
    SubscriptionOneRootField,
    SubscriptionsPerUser,
    SubscriptionsPerConnection,
    StreamsFull,
    StreamsPerAddress,
    StreamsPerUser,
    QuestionMissing,
    ChoiceMissing,
    AnsweredTwice,
    AnswerNeedsText,
    AnswerNeedsChoice,
    AnswerTextLength,
    TimeTakenRange,
    OfflineAnswerType,
    PageSize,
    CursorUnknown,
    UsernameLength,
    UsernameCharacters,
    UsernameNeedsAlphanumeric,
    EmailInvalid,
    EmailRequired,
    EmailQuoted,
    EmailLookAlike,
    EmailUnchanged,
    LocaleUnsupported,
    ReturnToElsewhere,
    Duration,
    MailHello,
    MailHelloName,
    VerifySubject,
    VerifySignedUp,
    VerifyIfYou,
    VerifyButton,
    VerifyLinkExpires,
    VerifyNotYou,
    ResetSubject,
    ResetAsked,
    ResetButton,
    ResetLinkExpires,
    SignInLinkSubject,
    SignInLinkAsked,
    SignInLinkButton,
    SignInLinkCode,
    SignInLinkExpires,
    SignInLinkNotYou,
    SignUpLinkSubject,
    SignUpLinkAsked,
    SignUpLinkButton,
    SignUpLinkNotYou,
    SignUpLinkPending,
    SignUpLinkPasswordDropped,
    NoticePasskeyAddedSubject,
    NoticeTotpEnabledSubject,
    NoticeTotpDisabledSubject,
    NoticeRecoveryCodesSubject,
    NoticePasswordChangedSubject,
    NoticePasswordResetSubject,
    NoticePasskeyAdded,
    NoticeTotpEnabled,
    NoticeTotpDisabled,
    NoticeRecoveryCodes,
    NoticePasswordChanged,
    NoticePasswordReset,
    NoticePasskeysRemoved,
    NoticeTotpStillOn,
    NoticeNotYou,
    EmailChangeSubject,
    EmailChangeAsked,
    EmailChangeButton,
    EmailChangeExpires,
    EmailChangeNoticeSubject,
    EmailChangeNotice,
    EmailChangeUndo,
    EmailChangeUndoButton,
    PageNeedsJavascript,
    PageLinkIncomplete,
    PageUnreachable,
    VerifyPageTitle,
    VerifyPageIntro,
    VerifyPageLoggedIn,
    VerifyPageMaybeLoggedIn,
    VerifyPageConfirm,
    VerifyPageWorking,
    VerifyPageWelcome,
    VerifyPageGraphiql,
    ResetPageTitle,
    ResetPageLabel,
    ResetPageSubmit,
    ResetPageDone,
    SignInPageTitle,
    SignInPageIntro,
    SignInPageButton,
    SignInPageLoggedIn,
    SignInPageMaybeLoggedIn,
    SignInPageCodeLabel,
    SignInPageCodeSubmit,
    SignInPageNotFromHere,
    SignInPageAskAgain,
    EmailChangePageTitle,
    ConfirmEmailChangePageIntro,
    ConfirmEmailChangePageDone,
    UndoEmailChangePageIntro,
    UndoEmailChangePageButton,
    UndoEmailChangePageDone,
    OfflineStem,
    OfflineExplanation,
    OfflineDescription,
    FeedbackAllRight,
    FeedbackSummary,
    FeedbackChose,
    FeedbackWrote,
    FeedbackUnanswered,
    TopicLength,
    SourceTextLength,
    NumberRange,
    LanguageCode,
    TextOrMaterial,
    StudyTextNeeded,
    StudyTextTooShort,
    StudyTextMakesAtMost,
    OneGenerationPerRequest,
    RetentionRange,
    MaterialTitleLength,
    MaterialQuota,
    FileTooLarge,
    NoFileSent,
    FileUnsupportedType,
    FileUnknownEncoding,
    FileCorruptPdf,
    FileEncryptedPdf,
    FileNoTextLayer,
    FileTooManyPages,
    FileDecompressionBomb,
    FileEmpty,
    FileTooSlow,
    SignedUp,
    LoggedIn,
    EmailVerifiedLoggedIn,
    GuestStarted,
    LoggedOut,
    LoggedOutEverywhere,
}

impl MessageKey {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A value a message quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageArg {
    Text(String),
    Number(i64),
}

impl From<String> for MessageArg {
    fn from(s: String) -> Self {
        MessageArg::Text(s)
    }
}

impl From<&str> for MessageArg {
    fn from(s: &str) -> Self {
        MessageArg::Text(s.to_owned())
    }
}

macro_rules! number_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for MessageArg {
            fn from(n: $t) -> Self {
                MessageArg::Number(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )*};
}
number_arg!(i32, i64, u32, u64, usize);

/// A message to render: its key and the named values it quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub key: MessageKey,
    pub args: Vec<(&'static str, MessageArg)>,
}

impl Message {
    pub fn new(key: MessageKey) -> Self {
        Message {
            key,
            args: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<MessageArg>) -> Self {
        self.args.push((name, value.into()));
        self
    }
}

impl From<MessageKey> for Message {
    fn from(key: MessageKey) -> Self {
        Message::new(key)
    }
}

/// Text from code whose messages are not in the catalogues yet: shown as is, in every language.
impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::new(MessageKey::Verbatim).with("text", text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::from(text.to_owned())
    }
}
