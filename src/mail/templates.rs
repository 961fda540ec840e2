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

#[cfg(test)]
mod tests {
    use super::*;

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
