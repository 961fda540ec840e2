//! Reading a streamed (server-sent events) chat completion.

use std::time::Duration;

use serde_json::Value;

use super::{Completion, LlmError};

/// Reads a chat-completions event stream to its end and returns the message content. Each
/// event carries a `delta` of the message; the stream ends with `data: [DONE]` (or a chunk with
/// a `finish_reason`). Anything else that ends it, or a silence of `idle`, is a broken stream.
pub(super) async fn read_stream(
    resp: reqwest::Response,
    idle: Duration,
    on_partial: &mut (dyn FnMut(&str) + Send),
) -> Result<Completion, LlmError> {
    use eventsource_stream::Eventsource;
    use futures_util::StreamExt;

    let mut events = resp.bytes_stream().eventsource();
    let mut content = String::new();
    let mut finished = false;
    loop {
        let event = match tokio::time::timeout(idle, events.next()).await {
            Err(_) => return Err(LlmError::Timeout(idle)),
            Ok(None) if finished => {
                return Ok(Completion {
                    content,
                    cut_off: false,
                });
            }
            Ok(None) => {
                return Err(LlmError::Transport(
                    "the reply stream ended before it was complete".into(),
                ));
            }
            Ok(Some(Err(err))) => {
                return Err(LlmError::Transport(format!(
                    "the reply stream broke off: {err}"
                )));
            }
            Ok(Some(Ok(event))) => event,
        };
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(Completion {
                content,
                cut_off: false,
            });
        }
        if data.is_empty() {
            continue;
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::BadReply(format!("a stream event is not JSON: {e}")))?;
        if let Some(message) = chunk["error"]["message"].as_str() {
            return Err(LlmError::BadReply(format!(
                "the provider reported an error mid-stream: {message}"
            )));
        }
        let choice = &chunk["choices"][0];
        if let Some(refusal) = choice["delta"]["refusal"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            return Err(LlmError::BadReply(format!("the model refused: {refusal}")));
        }
        if let Some(piece) = choice["delta"]["content"]
            .as_str()
            .filter(|p| !p.is_empty())
        {
            content.push_str(piece);
            on_partial(&content);
        }
        match choice["finish_reason"].as_str() {
            None | Some("stop") => finished |= choice["finish_reason"].is_string(),
            Some("length") => {
                return Ok(Completion {
                    content,
                    cut_off: true,
                });
            }
            Some(reason) => {
                return Err(LlmError::BadReply(format!(
                    "the reply stopped early ({reason})"
                )));
            }
        }
    }
}
