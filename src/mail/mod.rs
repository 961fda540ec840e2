//! Outgoing e-mail through lettre: SMTP when `SMTP_URL` is set, otherwise `.eml` files in
//! `MAIL_DIR` so a bare machine can still finish sign-up.

pub mod outbox;
pub mod templates;

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};

use crate::config::Config;

/// One outgoing e-mail, before it becomes MIME.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Email {
    pub fn to_message(&self, from: &Mailbox) -> anyhow::Result<Message> {
        Ok(Message::builder()
            .from(from.clone())
            .to(self.to.clone())
            .subject(self.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                self.html.clone(),
            ))?)
    }
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: Email) -> anyhow::Result<()>;
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: Email) -> anyhow::Result<()> {
        self.transport
            .send(email.to_message(&self.from)?)
            .await
            .context("SMTP delivery failed")?;
        Ok(())
    }
}

pub struct FileMailer {
    transport: AsyncFileTransport<Tokio1Executor>,
    dir: PathBuf,
    from: Mailbox,
}

#[async_trait]
impl Mailer for FileMailer {
    /// Writes `<id>.eml` (the MIME message) and `<id>.txt` (its plain text, where long links
    /// are not folded by quoted-printable encoding, for a person to copy from).
    async fn send(&self, email: Email) -> anyhow::Result<()> {
        let id = self
            .transport
            .send(email.to_message(&self.from)?)
            .await
            .with_context(|| format!("cannot write e-mail into {}", self.dir.display()))?;
        let text = format!(
            "To: {}\nSubject: {}\n\n{}",
            email.to, email.subject, email.text
        );
        let txt = self.dir.join(format!("{id}.txt"));
        tokio::fs::write(&txt, text)
            .await
            .with_context(|| format!("cannot write {}", txt.display()))?;
        tracing::info!(file = %txt.display(), "e-mail written");
        Ok(())
    }
}

pub async fn from_config(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    let from: Mailbox = config
        .mail_from
        .parse()
        .with_context(|| format!("MAIL_FROM is not a valid mailbox: {:?}", config.mail_from))?;
    Ok(match &config.smtp_url {
        Some(url) => {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                .context("SMTP_URL is not a valid SMTP URL")?
                .timeout(Some(Duration::from_secs(10)))
                .build();
            Arc::new(SmtpMailer { transport, from })
        }
        None => {
            let dir = config.mail_dir.clone();
            tokio::fs::create_dir_all(&dir)
                .await
                .with_context(|| format!("cannot create MAIL_DIR {}", dir.display()))?;
            Arc::new(FileMailer {
                transport: AsyncFileTransport::new(&dir),
                dir,
                from,
            })
        }
    })
}
