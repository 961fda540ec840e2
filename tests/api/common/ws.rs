//! A GraphQL-over-WebSocket client for tests (`graphql-transport-ws` or the legacy `graphql-ws`)
//! on tokio-tungstenite, and a reader for multipart subscription responses.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue},
};

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

/// How long a test waits for the next message before it fails.
const WAIT: Duration = Duration::from_secs(20);

pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    pub protocol: &'static str,
}

/// How a socket ended: its close code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

/// The upgrade request: the protocol, and optionally a cookie and an `Origin`.
pub struct Upgrade<'a> {
    pub protocol: &'static str,
    pub access_cookie: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub accept_language: Option<&'a str>,
}

impl Default for Upgrade<'_> {
    fn default() -> Self {
        Upgrade {
            protocol: TRANSPORT_WS,
            access_cookie: None,
            origin: None,
            accept_language: None,
        }
    }
}

/// Opens a socket on `base_url`'s `/graphql`; the upgrade's HTTP error when it is refused.
pub async fn connect(base_url: &str, upgrade: Upgrade<'_>) -> Result<Socket, tungstenite::Error> {
    let url = format!("{}/graphql", base_url.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request()?;
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(upgrade.protocol),
    );
    if let Some(token) = upgrade.access_cookie {
        headers.insert(
            "cookie",
            HeaderValue::from_str(&format!("access={token}")).unwrap(),
        );
    }
    if let Some(origin) = upgrade.origin {
        headers.insert("origin", HeaderValue::from_str(origin).unwrap());
    }
    if let Some(languages) = upgrade.accept_language {
        headers.insert("accept-language", HeaderValue::from_str(languages).unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Socket {
        ws,
        protocol: upgrade.protocol,
    })
}

/// The HTTP status an upgrade was refused with.
pub fn refused_status(err: &tungstenite::Error) -> Option<u16> {
    match err {
        tungstenite::Error::Http(resp) => Some(resp.status().as_u16()),
        _ => None,
    }
}

impl Socket {
    pub async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// Sends `connection_init` and returns the answer (`connection_ack`, or how it closed).
    pub async fn init(&mut self, payload: Value) -> Result<Value, Closed> {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        loop {
            let message = self.next().await?;
            // The legacy protocol may follow the ack with a keep-alive.
            if message["type"] != "ka" {
                return Ok(message);
            }
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.protocol == TRANSPORT_WS {
            "subscribe"
        } else {
            "start"
        };
        self.send(json!({ "id": id, "type": kind, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message (pings answered and skipped), or how the socket closed.
    pub async fn next(&mut self) -> Result<Value, Closed> {
        // Pings do not count: a server that only pings has not answered.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("no message from the server in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Ok(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or(
                        Closed {
                            code: 1005,
                            reason: String::new(),
                        },
                        |f| Closed {
                            code: f.code.into(),
                            reason: f.reason.to_string(),
                        },
                    ));
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => {
                    return Err(Closed {
                        code: 1006,
                        reason: err.to_string(),
                    });
                }
                None => {
                    return Err(Closed {
                        code: 1006,
                        reason: "ended".into(),
                    });
                }
            }
        }
    }

    /// The next message's payload for subscription `id` (`next`/`data`), skipping keep-alives;
    /// `None` once it completed.
    pub async fn next_payload(&mut self, id: &str) -> Option<Value> {
        loop {
            let message = self.next().await.expect("the socket closed");
            match message["type"].as_str() {
                Some("ka") => continue,
                Some("next" | "data") if message["id"] == id => {
                    return Some(message["payload"].clone());
                }
                Some("complete") if message["id"] == id => return None,
                Some("error") if message["id"] == id => {
                    return Some(json!({ "errors": message["payload"] }));
                }
                _ => panic!("unexpected message {message}"),
            }
        }
    }

    /// How many keep-alive pings arrive within `window` (each answered with a pong).
    pub async fn pings_within(&mut self, window: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + window;
        let mut pings = 0;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).expect("JSON message");
                if value["type"] == "ping" || value["type"] == "ka" {
                    pings += 1;
                    self.send(json!({ "type": "pong" })).await;
                }
            }
        }
        pings
    }

    /// Waits for the server to close the socket; panics on any other message but pings.
    pub async fn closed(&mut self) -> Closed {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the socket did not close in time"
            );
            match self.next().await {
                Ok(message) if message["type"] == "ka" => continue,
                Ok(message) => panic!("expected the socket to close, got {message}"),
                Err(closed) => return closed,
            }
        }
    }
}

/// Reads a multipart subscription response part by part (Apollo's protocol): each part's JSON,
/// heartbeats (`{}`) skipped.
pub struct Multipart {
    response: reqwest::Response,
    buffer: String,
}

impl Multipart {
    pub fn new(response: reqwest::Response) -> Self {
        Multipart {
            response,
            buffer: String::new(),
        }
    }

    /// The next part's JSON; `None` at the closing boundary.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            // A part is complete once the next boundary follows it.
            if let Some(start) = self.buffer.find("\r\n\r\n") {
                let rest = &self.buffer[start + 4..];
                if let Some(end) = rest.find("--graphql") {
                    let body = rest[..end].trim().to_owned();
                    let closing = rest[end..].starts_with("--graphql--");
                    self.buffer = rest[end..].to_owned();
                    if closing && body.is_empty() {
                        return None;
                    }
                    let value: Value = serde_json::from_str(&body).expect("a JSON part");
                    if value.as_object().is_some_and(|o| o.is_empty()) {
                        continue;
                    }
                    return Some(value);
                }
            } else if self.buffer.starts_with("--graphql--") {
                return None;
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("no part from the server in time")
                .expect("the response broke off");
            match chunk {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }
}
