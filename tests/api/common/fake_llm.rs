//! A fake OpenAI-compatible chat-completions server for tests: scripted replies, recorded
//! requests. A request with `"stream": true` gets its reply as server-sent events, which the
//! script can send slowly, break off, or stall.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{
    EndpointExt, IntoResponse, Route, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Json},
};
use serde_json::{Value, json};

/// One scripted reply of the fake provider.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this string as the message content.
    Content(String),
    Status(u16),
    /// Answers only after this long, with a 504.
    Hang(Duration),
    /// Answers with this content once the test calls `notify_one` (a call made before the
    /// request arrives is remembered), so a request stays in flight as long as the test needs.
    /// Streamed, the first question comes at once and the rest once released.
    Held(Arc<tokio::sync::Notify>, String),
    /// Streams the content in pieces of `piece` bytes, `pause` apart.
    Slow {
        content: String,
        piece: usize,
        pause: Duration,
    },
    /// Streams the first `bytes` of the content, then breaks the connection.
    BreakAfter(String, usize),
    /// Streams the first `bytes` of the content, then sends nothing more (until the client
    /// gives up).
    StallAfter(String, usize),
    /// The content, ended with `finish_reason: "length"` as a server does that hit `max_tokens`.
    CutOff(String),
}

#[derive(Default)]
pub struct FakeLlm {
    pub replies: Mutex<VecDeque<Reply>>,
    pub requests: Mutex<Vec<(Value, Option<String>)>>,
    /// Streamed replies the client stopped reading before their end (it closed the request).
    pub abandoned: std::sync::atomic::AtomicUsize,
}

impl FakeLlm {
    /// What the server said last in its `n`-th request (from 0): in a repair round, the
    /// complaint about the reply before.
    pub fn last_message(&self, n: usize) -> String {
        self.requests()[n]["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or_else(|| panic!("request {n} has no message"))
            .to_owned()
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| b.clone())
            .collect()
    }
}

/// One server-sent event of a chat-completions stream carrying `piece` of the message.
fn delta_event(piece: &str) -> String {
    let chunk = json!({
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "choices": [{ "index": 0, "delta": { "content": piece }, "finish_reason": null }],
    });
    format!("data: {chunk}\n\n")
}

const STREAM_END: &str = "data: {\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\
    \"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

const STREAM_CUT_OFF: &str = "data: {\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\
    \"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n";

/// How a streamed reply ends.
#[derive(Clone, Copy)]
enum StreamEnd {
    Done,
    CutOff,
    Break,
    Stall,
}

/// Counts a stream the client abandoned: dropped before it ended by itself.
struct Watched {
    fake: Arc<FakeLlm>,
    finished: bool,
}

impl Drop for Watched {
    fn drop(&mut self) {
        if !self.finished {
            self.fake
                .abandoned
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

fn pieces(content: &str, size: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in content.chars() {
        current.push(c);
        if current.len() >= size.max(1) {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// What a streamed reply does next.
enum Step {
    Piece(String),
    Pause(Duration),
    /// Waits for the test's `notify_one`.
    Wait(Arc<tokio::sync::Notify>),
}

fn event_stream(fake: Arc<FakeLlm>, steps: Vec<Step>, end: StreamEnd) -> poem::Response {
    let body = futures_util::stream::unfold(
        (
            steps.into_iter(),
            Watched {
                fake,
                finished: false,
            },
            false,
        ),
        move |(mut steps, mut watched, ended)| async move {
            if ended {
                return None;
            }
            loop {
                match steps.next() {
                    Some(Step::Pause(d)) => tokio::time::sleep(d).await,
                    Some(Step::Wait(release)) => release.notified().await,
                    Some(Step::Piece(part)) => {
                        return Some((Ok(delta_event(&part)), (steps, watched, false)));
                    }
                    None => break,
                }
            }
            match end {
                StreamEnd::Done | StreamEnd::CutOff => {
                    watched.finished = true;
                    let last = match end {
                        StreamEnd::CutOff => STREAM_CUT_OFF,
                        _ => STREAM_END,
                    };
                    Some((Ok(last.to_owned()), (steps, watched, true)))
                }
                StreamEnd::Break => {
                    watched.finished = true;
                    Some((
                        Err(std::io::Error::other("scripted break")),
                        (steps, watched, true),
                    ))
                }
                StreamEnd::Stall => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    None
                }
            }
        },
    );
    poem::Response::builder()
        .content_type("text/event-stream")
        .body(poem::Body::from_bytes_stream(futures_util::StreamExt::map(
            body,
            |r| r.map(bytes::Bytes::from),
        )))
}

/// The content in pieces of about `size` bytes, with `pause` before each.
fn paced(content: &str, size: usize, pause: Duration) -> Vec<Step> {
    pieces(content, size)
        .into_iter()
        .flat_map(|p| [Step::Pause(pause), Step::Piece(p)])
        .collect()
}

fn prefix(content: &str, bytes: usize) -> String {
    let mut end = bytes.min(content.len());
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    content[..end].to_owned()
}

#[handler]
async fn completions(
    req: &poem::Request,
    body: Json<Value>,
    fake: Data<&Arc<FakeLlm>>,
) -> poem::Response {
    let auth = req.header("authorization").map(str::to_owned);
    let streamed = body.0["stream"] == true;
    fake.requests.lock().unwrap().push((body.0, auth));
    let reply = fake.replies.lock().unwrap().pop_front();
    let fake = fake.0.clone();
    if streamed {
        // The head goes out at once; a held reply waits inside its body.
        let (steps, end) = match reply {
            Some(Reply::Content(content)) => (paced(&content, 40, Duration::ZERO), StreamEnd::Done),
            Some(Reply::CutOff(content)) => {
                (paced(&content, 40, Duration::ZERO), StreamEnd::CutOff)
            }
            Some(Reply::Held(release, content)) => {
                // The first question arrives, then the rest once released.
                let split = content
                    .find("\"explanation\"")
                    .and_then(|i| content[i..].find('}').map(|j| i + j + 1))
                    .unwrap_or(1);
                let (head, tail) = content.split_at(split);
                let mut steps = paced(head, 40, Duration::ZERO);
                steps.push(Step::Wait(release));
                // Paced, so a client that went away meanwhile is noticed before the end.
                steps.extend(paced(tail, 40, Duration::from_millis(20)));
                (steps, StreamEnd::Done)
            }
            Some(Reply::Slow {
                content,
                piece,
                pause,
            }) => (paced(&content, piece, pause), StreamEnd::Done),
            Some(Reply::BreakAfter(content, bytes)) => (
                paced(&prefix(&content, bytes), 40, Duration::ZERO),
                StreamEnd::Break,
            ),
            Some(Reply::StallAfter(content, bytes)) => (
                paced(&prefix(&content, bytes), 40, Duration::ZERO),
                StreamEnd::Stall,
            ),
            other => return plain(other).await,
        };
        return event_stream(fake, steps, end);
    }
    if let Some(Reply::Held(release, _)) = &reply {
        release.notified().await;
    }
    plain(reply).await
}

/// A reply in one piece, as the API answers a request without `"stream": true`.
async fn plain(reply: Option<Reply>) -> poem::Response {
    let reply = match reply {
        Some(
            Reply::Slow { content, .. }
            | Reply::BreakAfter(content, _)
            | Reply::StallAfter(content, _),
        ) => Some(Reply::Content(content)),
        other => other,
    };
    match reply {
        Some(Reply::Content(content) | Reply::Held(_, content)) => Json(json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [{ "index": 0, "finish_reason": "stop",
                          "message": { "role": "assistant", "content": content, "refusal": null } }],
        }))
        .into_response(),
        Some(Reply::CutOff(content)) => Json(json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [{ "index": 0, "finish_reason": "length",
                          "message": { "role": "assistant", "content": content, "refusal": null } }],
        }))
        .into_response(),
        Some(Reply::Status(code)) => Json(json!({ "error": { "message": "scripted failure" } }))
            .with_status(StatusCode::from_u16(code).unwrap())
            .into_response(),
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(_) => unreachable!("streamed replies were turned into content"),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

pub async fn start_fake(replies: Vec<Reply>) -> (Arc<FakeLlm>, String) {
    let fake = Arc::new(FakeLlm {
        replies: Mutex::new(replies.into()),
        ..Default::default()
    });
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let app = Route::new()
        .at("/v1/chat/completions", post(completions))
        .data(fake.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    (fake, format!("http://{addr}/v1"))
}
