//! Message bodies. Each e-mail has a plain-text part (with the bare link, for any client) and an
//! HTML part.

use std::time::Duration;

use lettre::message::Mailbox;

use super::Email;
use crate::{
    domain::{Locale, Message, MessageKey, MessageKey as K},
    i18n::{render, text},
};

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// "3 days", "12 hours", "30 minutes" (or "3일"…): the largest unit the duration is a whole
/// number of.
fn describe(locale: Locale, d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(len, _)| secs >= *len && secs.is_multiple_of(*len))
        .map_or((secs, "second"), |(len, unit)| (secs / len, unit));
    render(
        locale,
        &Message::new(K::Duration).with("n", n).with("unit", unit),
    )
}

/// Stands for the username while a paragraph is rendered for HTML, so the name can be put in
/// `<strong>` after the rest is escaped.
const NAME: &str = "\u{E000}";

/// The e-mail being written: who it is for, in their language, and its paragraphs in both
/// forms (plain text, and HTML with the name in bold).
struct Letter<'a> {
    locale: Locale,
    username: &'a str,
    text: Vec<String>,
    html: Vec<String>,
}

impl<'a> Letter<'a> {
    fn new(locale: Locale, username: &'a str) -> Self {
        Letter {
            locale,
            username,
            text: Vec::new(),
            html: Vec::new(),
        }
    }

    /// A paragraph; `username` in it is quoted in the text and bold in the HTML.
    fn say(&mut self, message: Message) -> &mut Self {
        let with_name = |name: &str| {
            let mut m = message.clone();
            m.args.push(("username", name.into()));
            render(self.locale, &m)
        };
        self.text.push(with_name(self.username));
        let strong = format!("<strong>{}</strong>", escape_html(self.username));
        let html = escape_html(&with_name(NAME))
            .replace(&format!("&quot;{NAME}&quot;"), &strong)
            .replace(NAME, &escape_html(self.username));
        self.html.push(format!("<p>{html}</p>"));
        self
    }

    /// The link on a line of its own in the text, a labelled link in the HTML.
    fn link(&mut self, link: &str, label: MessageKey) -> &mut Self {
        self.text.push(link.to_owned());
        self.html.push(format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape_html(link),
            escape_html(&text(self.locale, label))
        ));
        self
    }

    fn to_email(&self, to: Mailbox, subject: MessageKey) -> Email {
        Email {
            to,
            subject: text(self.locale, subject),
            text: format!("{}\n", self.text.join("\n\n")),
            html: format!(
                "<!doctype html><html><body style=\"font-family: sans-serif\">{}</body></html>",
                self.html.concat()
            ),
        }
    }
}

/// Names the username, so that someone who did not sign up (or not as that user) knows not to
/// open the link: it would activate an account whose password somebody else chose.
pub fn verification(
    to: Mailbox,
    locale: Locale,
    username: &str,
    link: &str,
    pending_for: Duration,
) -> Email {
    let kept = describe(locale, pending_for);
    let mut letter = Letter::new(locale, username);
    letter
        .say(K::MailHello.into())
        .say(K::VerifySignedUp.into())
        .say(K::VerifyIfYou.into())
        .link(link, K::VerifyButton)
        .say(K::VerifyLinkExpires.into())
        .say(Message::new(K::VerifyNotYou).with("kept", kept));
    letter.to_email(to, K::VerifySubject)
}

pub fn password_reset(to: Mailbox, locale: Locale, username: &str, link: &str) -> Email {
    let mut letter = Letter::new(locale, username);
    letter
        .say(K::MailHelloName.into())
        .say(K::ResetAsked.into())
        .link(link, K::ResetButton)
        .say(K::ResetLinkExpires.into());
    letter.to_email(to, K::ResetSubject)
}

/// Which account a sign-in link (`requestSignInLink`) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInLetter {
    /// A verified account: the link signs in to it.
    SignIn,
    /// No account has the address (`SIGN_UP_BY_LINK`): the link makes one.
    SignUp,
    /// An account signed up with the address but never confirmed (`SIGN_UP_BY_LINK`): the link
    /// confirms it, and the password someone chose at that sign-up stops working.
    Confirm,
}

/// The link and the code of one sign-in request, which expire after `ttl`. `username` is the
/// account's, empty for a sign-up (there is none yet).
pub fn sign_in_link(
    to: Mailbox,
    locale: Locale,
    letter: SignInLetter,
    username: &str,
    link: &str,
    code: &str,
    ttl: Duration,
) -> Email {
    let (subject, hello, asked, button, not_you) = match letter {
        SignInLetter::SignIn => (
            K::SignInLinkSubject,
            K::MailHelloName,
            K::SignInLinkAsked,
            K::SignInLinkButton,
            K::SignInLinkNotYou,
        ),
        SignInLetter::SignUp => (
            K::SignUpLinkSubject,
            K::MailHello,
            K::SignUpLinkAsked,
            K::SignUpLinkButton,
            K::SignUpLinkNotYou,
        ),
        SignInLetter::Confirm => (
            K::VerifySubject,
            K::MailHello,
            K::SignUpLinkPending,
            K::VerifyButton,
            K::SignInLinkNotYou,
        ),
    };
    let mut body = Letter::new(locale, username);
    body.say(hello.into())
        .say(asked.into())
        .link(link, button)
        .say(Message::new(K::SignInLinkCode).with("code", code))
        .say(Message::new(K::SignInLinkExpires).with("ttl", describe(locale, ttl)));
    if letter == SignInLetter::Confirm {
        body.say(K::SignUpLinkPasswordDropped.into());
    }
    body.say(not_you.into());
    body.to_email(to, subject)
}

/// To the address an account asked to change to: the link that confirms it, good for `ttl`.
pub fn email_change_confirmation(
    to: Mailbox,
    locale: Locale,
    username: &str,
    link: &str,
    ttl: Duration,
) -> Email {
    let mut letter = Letter::new(locale, username);
    letter
        .say(K::MailHelloName.into())
        .say(K::EmailChangeAsked.into())
        .link(link, K::EmailChangeButton)
        .say(Message::new(K::EmailChangeExpires).with("ttl", describe(locale, ttl)));
    letter.to_email(to, K::EmailChangeSubject)
}

/// To the address an account is leaving: where it goes (`masked`, so the notice does not hand
/// the new address to whoever reads the old mailbox), and the link that undoes the change for
/// `ttl`, before or after it is confirmed.
pub fn email_change_notice(
    to: Mailbox,
    locale: Locale,
    username: &str,
    masked: &str,
    undo_link: &str,
    ttl: Duration,
) -> Email {
    let mut letter = Letter::new(locale, username);
    letter
        .say(K::MailHelloName.into())
        .say(Message::new(K::EmailChangeNotice).with("masked", masked))
        .say(Message::new(K::EmailChangeUndo).with("ttl", describe(locale, ttl)))
        .link(undo_link, K::EmailChangeUndoButton);
    letter.to_email(to, K::EmailChangeNoticeSubject)
}

/// A change to how an account signs in, told to its owner, so that one made with a stolen
/// session does not go unnoticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityNotice {
    PasskeyAdded {
        name: String,
    },
    TotpEnabled,
    TotpDisabled,
    RecoveryCodesRegenerated,
    PasswordChanged,
    /// A reset by e-mail link: it removed this many passkeys; TOTP stays as it was.
    PasswordReset {
        passkeys_removed: u64,
        totp_on: bool,
    },
}

impl SecurityNotice {
    fn subject(&self) -> MessageKey {
        match self {
            SecurityNotice::PasskeyAdded { .. } => K::NoticePasskeyAddedSubject,
            SecurityNotice::TotpEnabled => K::NoticeTotpEnabledSubject,
            SecurityNotice::TotpDisabled => K::NoticeTotpDisabledSubject,
            SecurityNotice::RecoveryCodesRegenerated => K::NoticeRecoveryCodesSubject,
            SecurityNotice::PasswordChanged => K::NoticePasswordChangedSubject,
            SecurityNotice::PasswordReset { .. } => K::NoticePasswordResetSubject,
        }
    }

    /// What happened, in plain sentences.
    fn body(&self) -> Vec<Message> {
        match self {
            SecurityNotice::PasskeyAdded { name } => {
                vec![Message::new(K::NoticePasskeyAdded).with("name", name.as_str())]
            }
            SecurityNotice::TotpEnabled => vec![K::NoticeTotpEnabled.into()],
            SecurityNotice::TotpDisabled => vec![K::NoticeTotpDisabled.into()],
            SecurityNotice::RecoveryCodesRegenerated => vec![K::NoticeRecoveryCodes.into()],
            SecurityNotice::PasswordChanged => vec![K::NoticePasswordChanged.into()],
            SecurityNotice::PasswordReset {
                passkeys_removed,
                totp_on,
            } => {
                let mut lines = vec![
                    K::NoticePasswordReset.into(),
                    Message::new(K::NoticePasskeysRemoved).with("count", *passkeys_removed),
                ];
                if *totp_on {
                    lines.push(K::NoticeTotpStillOn.into());
                }
                lines
            }
        }
    }
}

/// Tells the owner that how their account signs in changed.
pub fn security_notice(
    to: Mailbox,
    locale: Locale,
    username: &str,
    notice: &SecurityNotice,
) -> Email {
    let mut letter = Letter::new(locale, username);
    letter.say(K::MailHelloName.into());
    for paragraph in notice.body() {
        letter.say(paragraph);
    }
    letter.say(K::NoticeNotYou.into());
    letter.to_email(to, notice.subject())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_notices_say_what_went_and_what_stayed() {
        let to: Mailbox = "ada@example.com".parse().unwrap();
        let reset = |passkeys_removed, totp_on| {
            security_notice(
                to.clone(),
                Locale::En,
                "ada<b>",
                &SecurityNotice::PasswordReset {
                    passkeys_removed,
                    totp_on,
                },
            )
        };
        let email = reset(2, true);
        assert!(
            email.text.contains("2 passkeys were removed"),
            "{}",
            email.text
        );
        assert!(email.text.contains("still on"), "{}", email.text);
        assert!(email.text.contains("If this was not you"), "{}", email.text);
        assert!(email.html.contains("ada&lt;b&gt;"), "{}", email.html);
        let email = reset(0, false);
        assert!(email.text.contains("had no passkeys"), "{}", email.text);
        assert!(!email.text.contains("still on"), "{}", email.text);
    }

    #[test]
    fn durations_read_naturally() {
        let en = |secs| describe(Locale::En, Duration::from_secs(secs));
        assert_eq!(en(3 * 86_400), "3 days");
        assert_eq!(en(3_600), "1 hour");
        assert_eq!(en(90 * 60), "90 minutes");
        assert_eq!(en(42), "42 seconds");
        let ko = |secs| describe(Locale::Ko, Duration::from_secs(secs));
        assert_eq!(ko(3 * 86_400), "3일");
        assert_eq!(ko(3_600), "1시간");
        assert_eq!(ko(90 * 60), "90분");
    }

    #[test]
    fn has_both_parts_and_the_link() {
        let from: Mailbox = "Quiz LLM <no-reply@localhost>".parse().unwrap();
        let to: Mailbox = "ada@example.com".parse().unwrap();
        let link = "http://localhost:8000/verify-email?uid=u&token=t";
        let email = verification(
            to.clone(),
            Locale::En,
            "ada<b>",
            link,
            Duration::from_secs(3 * 86_400),
        );
        assert!(email.text.contains(link));
        assert!(email.text.contains("as the user \"ada<b>\""));
        assert!(email.text.contains("If you did not sign up"));
        assert!(email.text.contains("deleted after 3 days"));
        assert!(email.html.contains("ada&lt;b&gt;"));
        let raw = String::from_utf8(email.to_message(&from).unwrap().formatted()).unwrap();
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(
            email.html.contains("<strong>ada&lt;b&gt;</strong>"),
            "{}",
            email.html
        );
    }

    #[test]
    fn sign_in_letters_carry_the_link_the_code_and_their_life() {
        let to: Mailbox = "ada@example.com".parse().unwrap();
        let link = "http://localhost:8000/sign-in-link?token=t";
        let ten = Duration::from_secs(600);
        let mail = |locale, letter, name| {
            sign_in_link(to.clone(), locale, letter, name, link, "042917", ten)
        };
        let email = mail(Locale::En, SignInLetter::SignIn, "ada");
        assert_eq!(email.subject, "Sign in to Quiz LLM");
        for part in [link, "042917", "10 minutes", "Hello ada,"] {
            assert!(email.text.contains(part), "{part}: {}", email.text);
        }
        assert!(
            email.html.contains(">Sign in to Quiz LLM</a>"),
            "{}",
            email.html
        );
        let email = mail(Locale::En, SignInLetter::SignUp, "");
        assert!(email.text.contains("no account yet"), "{}", email.text);
        assert!(email.text.starts_with("Hello,\n"), "{}", email.text);
        let email = mail(Locale::En, SignInLetter::Confirm, "ada");
        assert!(email.text.contains("named \"ada\""), "{}", email.text);
        assert!(email.text.contains("Forgot password"), "{}", email.text);
        let email = mail(Locale::Ko, SignInLetter::SignIn, "sejong");
        assert_eq!(email.subject, "Quiz LLM 로그인 링크");
        assert!(email.text.contains("10분 뒤에 만료"), "{}", email.text);
        assert!(email.text.contains("042917"), "{}", email.text);
        assert!(!email.text.contains("Hello"), "{}", email.text);
    }

    #[test]
    fn email_change_letters_carry_their_links_and_hide_the_new_address() {
        let to: Mailbox = "ada@example.com".parse().unwrap();
        let day = Duration::from_secs(86_400);
        let link = "http://localhost:8000/confirm-email-change?token=t";
        let email = email_change_confirmation(to.clone(), Locale::En, "ada", link, day);
        for part in [link, "\"ada\"", "1 day", "keeps its address"] {
            assert!(email.text.contains(part), "{part}: {}", email.text);
        }
        let undo = "http://localhost:8000/undo-email-change?token=u";
        let week = Duration::from_secs(7 * 86_400);
        let email = email_change_notice(
            to.clone(),
            Locale::En,
            "ada",
            "n***@example.com",
            undo,
            week,
        );
        for part in [undo, "n***@example.com", "7 days", "logs out every session"] {
            assert!(email.text.contains(part), "{part}: {}", email.text);
        }
        let email = email_change_notice(to, Locale::Ko, "sejong", "n***@example.com", undo, week);
        assert_eq!(
            email.subject,
            "Quiz LLM 계정의 이메일 주소 변경이 요청되었습니다"
        );
        assert!(email.text.contains("7일 안에"), "{}", email.text);
        assert!(!email.text.contains("Hello"), "{}", email.text);
    }

    #[test]
    fn korean_readers_get_korean_mail() {
        let to: Mailbox = "sejong@example.com".parse().unwrap();
        let link = "http://localhost:8000/verify-email?uid=u&token=t";
        let email = verification(
            to.clone(),
            Locale::Ko,
            "sejong",
            link,
            Duration::from_secs(3 * 86_400),
        );
        assert_eq!(email.subject, "Quiz LLM 이메일 주소를 인증해 주세요");
        assert!(email.text.contains(link));
        assert!(email.text.contains("\"sejong\""), "{}", email.text);
        assert!(email.text.contains("3일"), "{}", email.text);
        assert!(!email.text.contains("Hello"), "{}", email.text);
        let notice = security_notice(
            to,
            Locale::Ko,
            "sejong",
            &SecurityNotice::PasswordReset {
                passkeys_removed: 2,
                totp_on: false,
            },
        );
        assert!(notice.text.contains("패스키 2개"), "{}", notice.text);
    }
}
