//! Message bodies. Each e-mail has a plain-text part (with the bare link, for any client) and an
//! HTML part.

use std::time::Duration;

use lettre::message::Mailbox;

use super::Email;

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// "3 days", "12 hours", "30 minutes": the largest unit the duration is a whole number of.
fn describe(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(len, _)| secs >= *len && secs.is_multiple_of(*len))
        .map_or((secs, "second"), |(len, unit)| (secs / len, unit));
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Names the username, so that someone who did not sign up (or not as that user) knows not to
/// open the link: it would activate an account whose password somebody else chose.
pub fn verification(to: Mailbox, username: &str, link: &str, pending_for: Duration) -> Email {
    let kept = describe(pending_for);
    let text = format!(
        "Hello,\n\n\
         Someone signed up for Quiz LLM with this e-mail address as the user \"{username}\".\n\n\
         If that was you, confirm your e-mail address by opening this link:\n\n\
         {link}\n\n\
         The link works once and expires in 3 days.\n\n\
         If you did not sign up, or not as \"{username}\", ignore this e-mail and do not open \
         the link. The account stays inactive and is deleted after {kept}, and you can sign up \
         with this address yourself at any time.\n"
    );
    let (name, href) = (escape_html(username), escape_html(link));
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\">\
         <p>Hello,</p>\
         <p>Someone signed up for Quiz LLM with this e-mail address as the user \
         <strong>{name}</strong>.</p>\
         <p>If that was you, confirm your e-mail address:</p>\
         <p><a href=\"{href}\">Confirm my e-mail address</a></p>\
         <p>The link works once and expires in 3 days.</p>\
         <p>If you did not sign up, or not as <strong>{name}</strong>, ignore this e-mail and do \
         not open the link. The account stays inactive and is deleted after {kept}, and you can \
         sign up with this address yourself at any time.</p>\
         </body></html>"
    );
    Email {
        to,
        subject: "Confirm your e-mail address for Quiz LLM".into(),
        text,
        html,
    }
}

pub fn password_reset(to: Mailbox, username: &str, link: &str) -> Email {
    let text = format!(
        "Hello {username},\n\n\
         Someone (hopefully you) asked to reset your Quiz LLM password. Choose a new one here:\n\n\
         {link}\n\n\
         The link works once and expires in 1 hour. If you did not ask, ignore this e-mail: your \
         password stays as it is.\n"
    );
    let (name, href) = (escape_html(username), escape_html(link));
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\">\
         <p>Hello {name},</p>\
         <p>Someone (hopefully you) asked to reset your Quiz LLM password.</p>\
         <p><a href=\"{href}\">Choose a new password</a></p>\
         <p>The link works once and expires in 1 hour. If you did not ask, ignore this e-mail: \
         your password stays as it is.</p>\
         </body></html>"
    );
    Email {
        to,
        subject: "Reset your Quiz LLM password".into(),
        text,
        html,
    }
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
    fn subject(&self) -> &'static str {
        match self {
            SecurityNotice::PasskeyAdded { .. } => "A passkey was added to your Quiz LLM account",
            SecurityNotice::TotpEnabled => "Two-factor login was turned on for Quiz LLM",
            SecurityNotice::TotpDisabled => "Two-factor login was turned off for Quiz LLM",
            SecurityNotice::RecoveryCodesRegenerated => "New Quiz LLM recovery codes were made",
            SecurityNotice::PasswordChanged => "Your Quiz LLM password was changed",
            SecurityNotice::PasswordReset { .. } => "Your Quiz LLM password was reset",
        }
    }

    /// What happened, in plain sentences.
    fn body(&self) -> Vec<String> {
        match self {
            SecurityNotice::PasskeyAdded { name } => vec![format!(
                "A passkey named \"{name}\" was added to your account. It logs in on its own, \
                 without your password or a code."
            )],
            SecurityNotice::TotpEnabled => vec![
                "Two-factor login was turned on: logging in now also asks for a code from an \
                 authenticator app."
                    .into(),
            ],
            SecurityNotice::TotpDisabled => {
                vec!["Two-factor login was turned off: your password alone logs in again.".into()]
            }
            SecurityNotice::RecoveryCodesRegenerated => vec![
                "New recovery codes were made for two-factor login; the old ones no longer work."
                    .into(),
            ],
            SecurityNotice::PasswordChanged => {
                vec!["Your password was changed, and your other sessions were logged out.".into()]
            }
            SecurityNotice::PasswordReset {
                passkeys_removed,
                totp_on,
            } => {
                let mut lines = vec![
                    "Your password was reset with a link sent to this address, and every \
                     session was logged out."
                        .into(),
                ];
                lines.push(match passkeys_removed {
                    0 => "The account had no passkeys.".into(),
                    n => format!(
                        "{n} passkey{} removed: a reset proves the mailbox, not the \
                         devices. Log in and add yours again.",
                        if *n == 1 { " was" } else { "s were" }
                    ),
                });
                if *totp_on {
                    lines.push(
                        "Two-factor login is still on: logging in still asks for a code from \
                         your authenticator app (or a recovery code)."
                            .into(),
                    );
                }
                lines
            }
        }
    }
}

const NOT_YOU: &str = "If this was not you, someone else can use your account: reset your \
     password now (\"Forgot password\" when logging in), then log in and check your passkeys, \
     two-factor login and sessions.";

/// Tells the owner that how their account signs in changed.
pub fn security_notice(to: Mailbox, username: &str, notice: &SecurityNotice) -> Email {
    let body = notice.body();
    let text = format!("Hello {username},\n\n{}\n\n{NOT_YOU}\n", body.join("\n\n"));
    let paragraphs: String = body
        .iter()
        .map(|p| format!("<p>{}</p>", escape_html(p)))
        .collect();
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\">\
         <p>Hello {},</p>{paragraphs}<p>{}</p></body></html>",
        escape_html(username),
        escape_html(NOT_YOU)
    );
    Email {
        to,
        subject: notice.subject().into(),
        text,
        html,
    }
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
        assert_eq!(describe(Duration::from_secs(3 * 86_400)), "3 days");
        assert_eq!(describe(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(describe(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(describe(Duration::from_secs(42)), "42 seconds");
    }

    #[test]
    fn has_both_parts_and_the_link() {
        let from: Mailbox = "Quiz LLM <no-reply@localhost>".parse().unwrap();
        let to: Mailbox = "ada@example.com".parse().unwrap();
        let link = "http://localhost:8000/verify-email?uid=u&token=t";
        let email = verification(to, "ada<b>", link, Duration::from_secs(3 * 86_400));
        assert!(email.text.contains(link));
        assert!(email.text.contains("as the user \"ada<b>\""));
        assert!(email.text.contains("If you did not sign up"));
        assert!(email.text.contains("deleted after 3 days"));
        assert!(email.html.contains("ada&lt;b&gt;"));
        let raw = String::from_utf8(email.to_message(&from).unwrap().formatted()).unwrap();
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
    }
}
