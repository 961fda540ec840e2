//! A minimal SMTP server on 127.0.0.1 for tests that want a real SMTP conversation: it accepts
//! every message and keeps its raw text.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

pub struct SmtpSink {
    received: Arc<Mutex<Vec<String>>>,
    port: u16,
    /// While `false`, the port stays held but every connection is dropped before the greeting,
    /// as by a mail server that is down (the port is never given up, so nothing else takes it).
    serving: Arc<AtomicBool>,
    /// How long accepting a message takes, in milliseconds (0 unless [`SmtpSink::take`]).
    per_message_ms: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Down, on a port of its own ([`SmtpSink::port`]) until [`SmtpSink::up`].
    pub async fn down() -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let serving = Arc::new(AtomicBool::new(false));
        let per_message_ms = Arc::new(AtomicU64::new(0));
        let (inbox, open, slow) = (received.clone(), serving.clone(), per_message_ms.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if open.load(Ordering::SeqCst) {
                    tokio::spawn(serve(stream, inbox.clone(), slow.clone()));
                }
            }
        });
        SmtpSink {
            received,
            port,
            serving,
            per_message_ms,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on, accepting each message takes `per_message`, as on a busy mail server.
    pub fn take(&self, per_message: Duration) {
        let ms = u64::try_from(per_message.as_millis()).unwrap_or(u64::MAX);
        self.per_message_ms.store(ms, Ordering::SeqCst);
    }

    /// The mail server is back.
    pub fn up(&self) {
        self.serving.store(true, Ordering::SeqCst);
    }

    /// Every message received so far (headers and MIME body, as sent), oldest first.
    pub fn messages(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    /// Closes the port; open connections end with the task.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, inbox: Arc<Mutex<Vec<String>>>, per_message_ms: Arc<AtomicU64>) {
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
                let per_message = per_message_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(per_message)).await;
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
