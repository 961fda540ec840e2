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
use secrecy::{ExposeSecret, SecretString};

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

/// `SMTP_URL`, `MAIL_DIR`, `MAIL_FROM`, `MAIL_RETRY_BASE`.
#[derive(Debug, Clone, clap::Args)]
pub struct MailSettings {
    /// The mail server, e.g. smtp://localhost:1025; unset: e-mails are written as files to
    /// MAIL_DIR.
    // Checked in `validate`, not by clap, whose errors would print the URL's password.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, value_parser = crate::config::parse::parse_secret)]
    pub smtp_url: Option<SecretString>,
    /// Where the file mailer writes each e-mail, as `<id>.eml` (the message) and `<id>.txt`
    /// (its plain text, with the link on one line).
    #[arg(long, env = "MAIL_DIR", default_value = "data/mail")]
    pub mail_dir: PathBuf,
    /// The sender of every e-mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Quiz LLM <no-reply@localhost>"
    )]
    pub mail_from: Mailbox,
    /// Wait before the first retry of an e-mail that could not be delivered; it doubles with
    /// each further attempt (up to 15 minutes).
    #[arg(long, env = "MAIL_RETRY_BASE", default_value = "10s", value_parser = crate::config::parse::parse_duration)]
    pub mail_retry_base: Duration,
}

impl MailSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.smtp_url
            && !(url.expose_secret().starts_with("smtp://")
                || url.expose_secret().starts_with("smtps://"))
        {
            anyhow::bail!("SMTP_URL must start with smtp:// or smtps://");
        }
        Ok(())
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}

pub async fn from_settings(settings: &MailSettings) -> anyhow::Result<Arc<dyn Mailer>> {
    let from = settings.mail_from.clone();
    Ok(match &settings.smtp_url {
        Some(url) => {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                .context("SMTP_URL is not a valid SMTP URL")?
                .timeout(Some(Duration::from_secs(10)))
                .build();
            Arc::new(SmtpMailer { transport, from })
        }
        None => {
            let dir = settings.mail_dir.clone();
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
