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
