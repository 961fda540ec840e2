//! A fake OpenAI-compatible chat-completions server for tests: scripted replies, recorded
//! requests.

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
    Held(Arc<tokio::sync::Notify>, String),
}

#[derive(Default)]
pub struct FakeLlm {
    pub replies: Mutex<VecDeque<Reply>>,
    pub requests: Mutex<Vec<(Value, Option<String>)>>,
}

impl FakeLlm {
    pub fn requests(&self) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| b.clone())
            .collect()
    }
}

#[handler]
async fn completions(
    req: &poem::Request,
    body: Json<Value>,
    fake: Data<&Arc<FakeLlm>>,
) -> poem::Response {
    let auth = req.header("authorization").map(str::to_owned);
    fake.requests.lock().unwrap().push((body.0, auth));
    let reply = fake.replies.lock().unwrap().pop_front();
    if let Some(Reply::Held(release, _)) = &reply {
        release.notified().await;
    }
    match reply {
        Some(Reply::Content(content) | Reply::Held(_, content)) => Json(json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [{ "index": 0, "finish_reason": "stop",
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
