//! Message bodies. Each e-mail has a plain-text part (with the bare link, for any client) and an
//! HTML part.

use lettre::message::Mailbox;

use super::Email;

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub fn verification(to: Mailbox, username: &str, link: &str) -> Email {
    let text = format!(
        "Hello {username},\n\n\
         Confirm your e-mail address for Quiz LLM by opening this link:\n\n\
         {link}\n\n\
         The link works once and expires in 3 days. If you did not sign up, ignore this e-mail.\n"
    );
    let (name, href) = (escape_html(username), escape_html(link));
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\">\
         <p>Hello {name},</p>\
         <p>Confirm your e-mail address for Quiz LLM:</p>\
         <p><a href=\"{href}\">Confirm my e-mail address</a></p>\
         <p>The link works once and expires in 3 days. If you did not sign up, ignore this e-mail.</p>\
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
    fn has_both_parts_and_the_link() {
        let from: Mailbox = "Quiz LLM <no-reply@localhost>".parse().unwrap();
        let to: Mailbox = "ada@example.com".parse().unwrap();
        let link = "http://localhost:8000/verify-email?uid=u&token=t";
        let email = verification(to, "ada<b>", link);
        assert!(email.text.contains(link));
        assert!(email.html.contains("ada&lt;b&gt;"));
        let raw = String::from_utf8(email.to_message(&from).unwrap().formatted()).unwrap();
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
    }
}
