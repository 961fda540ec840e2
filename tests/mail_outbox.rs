//! E-mail survives a mail server that is down, and a restart: a real SMTP conversation with a
//! small SMTP sink the test starts and stops on 127.0.0.1.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{Backend, PASSWORD, TestApp};
use quiz_llm::config::{DatabaseUrl, Secret};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// A minimal SMTP server: accepts every message and keeps its raw text.
struct SmtpSink {
    received: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    async fn start(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let inbox = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, inbox.clone()));
            }
        });
        SmtpSink { received, task }
    }

    fn messages(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    /// Closes the port; open connections end with the task.
    fn stop(self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, inbox: Arc<Mutex<Vec<String>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                let _ = write.write_all(b"354 end with .\r\n").await;
                let mut message = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    message.push_str(&l);
                    message.push('\n');
                }
                inbox.lock().unwrap().push(message);
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_stores!(mail_waits_for_the_smtp_server_to_come_back);

async fn mail_waits_for_the_smtp_server_to_come_back(backend: Backend) {
    let port = free_port();
    let Some(app) = TestApp::spawn(backend, |c| {
        c.mail.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}")));
        c.mail.mail_retry_base = Duration::from_millis(200);
    })
    .await
    else {
        return;
    };
    // Nothing listens on the port: the mail server is down.
    let c = app.client();
    let r = c
        .sign_up("patient", "patient@example.com", PASSWORD)
        .await
        .ok();
    assert_eq!(r.data()["signUp"]["user"]["username"], "patient");
    assert_eq!(
        app.store.count_mail().await.unwrap(),
        1,
        "the e-mail waits in the outbox"
    );

    tokio::time::sleep(Duration::from_millis(600)).await;
    let sink = SmtpSink::start(port).await;
    let message = wait_for("the e-mail to arrive", || sink.messages().pop()).await;
    assert!(message.contains("patient@example.com"));
    assert!(message.contains("verify-email?uid="));
    let store = app.store.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.count_mail().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the outbox was not emptied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Delivered once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1);
    sink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_before_delivery_loses_no_email() {
    let dir = tempfile::tempdir().unwrap();
    let db = DatabaseUrl::Sqlite(Some(dir.path().join("outbox.db")));
    let port = free_port();
    {
        let db = db.clone();
        let first = TestApp::spawn(Backend::Sqlite, move |c| {
            c.store.database_url = db;
            c.mail.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}")));
            c.mail.mail_retry_base = Duration::from_secs(3600);
        })
        .await
        .unwrap();
        first
            .client()
            .sign_up("survivor", "survivor@example.com", PASSWORD)
            .await
            .ok();
        assert_eq!(first.store.count_mail().await.unwrap(), 1);
        // The process goes away with the mail undelivered.
    }
    let sink = SmtpSink::start(port).await;
    let second = TestApp::spawn(Backend::Sqlite, move |c| {
        c.store.database_url = db;
        c.mail.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}")));
        c.mail.mail_retry_base = Duration::from_millis(100);
    })
    .await
    .unwrap();
    // The failed first attempt scheduled a retry an hour later; let that hour pass.
    let due = second
        .store
        .due_mail(quiz_llm::store::now() + chrono::Duration::hours(2), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    second
        .store
        .reschedule_mail(&due[0].id, 1, quiz_llm::store::now(), "an hour passed")
        .await
        .unwrap();
    let message = wait_for("the e-mail to arrive", || sink.messages().pop()).await;
    assert!(message.contains("survivor@example.com"));
}
