//! E-mail as the tests read it: an in-memory mailer the app sends through, so a test finds the
//! mails to an address in the order they were sent, without files or a mail server.

use std::sync::Mutex;

use async_trait::async_trait;
use lettre::message::Mailbox;
use quiz_llm::mail::{Email, Mailer};

/// One delivered e-mail: `To:`/`Subject:` lines and the plain-text part, and the MIME message.
#[derive(Debug, Clone)]
pub struct Sent {
    pub text: String,
    pub mime: String,
}

#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<Sent>>,
}

impl MemoryMailer {
    /// Everything sent to an address containing `to`, oldest first.
    pub fn to(&self, to: &str) -> Vec<Sent> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.text.lines().next().is_some_and(|l| l.contains(to)))
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: Email) -> anyhow::Result<()> {
        let from: Mailbox = "Quiz LLM <no-reply@quiz.test>".parse()?;
        let mime = String::from_utf8(email.to_message(&from)?.formatted())?;
        let text = format!(
            "To: {}\nSubject: {}\n\n{}",
            email.to, email.subject, email.text
        );
        self.sent.lock().unwrap().push(Sent { text, mime });
        Ok(())
    }
}
