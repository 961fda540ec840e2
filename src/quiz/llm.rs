//! An OpenAI-compatible chat-completions client. The reply's shape is enforced by structured
//! output (`response_format: json_schema`, `strict: true`) with a schema derived from the Rust
//! types below, then checked again here, with one repair round for a reply that does not hold up.

use std::time::Duration;

use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tracing::Instrument;

/// The quiz exactly as the model must return it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmQuiz {
    pub title: String,
    pub description: String,
    pub questions: Vec<LlmQuestion>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmQuestion {
    pub content: String,
    pub answer_type: LlmAnswerType,
    pub choices: Vec<LlmChoice>,
    /// Why the correct answer is correct.
    pub explanation: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LlmAnswerType {
    MultipleChoice,
    TrueFalse,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmChoice {
    pub content: String,
    pub is_correct: bool,
}

/// Feedback on one graded submission, as the model must return it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmFeedback {
    pub summary: String,
    pub items: Vec<LlmFeedbackItem>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmFeedbackItem {
    pub question_number: i64,
    pub feedback: String,
}

/// Study text, prepared for checking that a correct answer is stated in it.
///
/// Both sides are compared normalised: Unicode NFKC, case-folded, and every run of punctuation
/// or whitespace read as one space. An answer is stated when its normalised form occurs in the
/// normalised text (a plain substring, so Korean particles or Chinese and Japanese text without
/// spaces still match).
pub struct StudyText(String);

impl StudyText {
    pub fn new(text: &str) -> Self {
        StudyText(normalized(text))
    }

    pub fn states(&self, answer: &str) -> bool {
        let answer = normalized(answer);
        !answer.is_empty() && self.0.contains(&answer)
    }
}

fn normalized(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// Why a call gave nothing usable; all of them end as `LLM_UNAVAILABLE` for the client.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM request timed out after {0:?}")]
    Timeout(Duration),
    #[error("the LLM provider answered HTTP {0}")]
    Status(u16),
    #[error("the LLM provider could not be reached: {0}")]
    Transport(String),
    #[error("the LLM reply was unusable: {0}")]
    BadReply(String),
}

pub struct LlmClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<SecretString>,
    model: String,
    timeout: Duration,
    max_retries: u32,
}

/// A chat message of the OpenAI API.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message {
            role: "system",
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: "user",
            content: content.into(),
        }
    }
    fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: "assistant",
            content: content.into(),
        }
    }
}

/// OpenAI's strict mode wants every object closed and every property required, and rejects
/// some keywords schemars emits (`format`, `minimum` on integers).
fn strict(mut schema: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["$schema", "format", "minimum", "maximum"] {
                    map.remove(key);
                }
                if let Some(Value::Object(props)) = map.get("properties") {
                    let required: Vec<Value> =
                        props.keys().map(|k| Value::String(k.clone())).collect();
                    map.insert("required".into(), Value::Array(required));
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut schema);
    schema
}

/// The JSON schema sent as `response_format` for `T`.
pub fn response_schema<T: JsonSchema>() -> Value {
    strict(serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null))
}

/// `LLM_*`: the OpenAI-compatible API that writes quizzes and feedback.
#[derive(Debug, Clone, clap::Args)]
pub struct LlmSettings {
    /// OpenAI-compatible API base, e.g. https://api.openai.com/v1; unset: offline generator.
    #[arg(long, env = "LLM_BASE_URL", value_parser = crate::settings::parse_http_url)]
    pub llm_base_url: Option<String>,
    /// Bearer key for the LLM API.
    #[arg(long, env = "LLM_API_KEY", hide_env_values = true, value_parser = crate::settings::parse_secret)]
    pub llm_api_key: Option<SecretString>,
    /// The model that writes quizzes and feedback.
    #[arg(long, env = "LLM_MODEL", default_value = "gpt-4o-mini")]
    pub llm_model: String,
    /// How long one LLM request may take; a streamed one (generation jobs), how long it may
    /// stay silent.
    #[arg(long, env = "LLM_TIMEOUT", default_value = "60s", value_parser = crate::settings::parse_duration)]
    pub llm_timeout: Duration,
    /// Extra attempts after a 429, a 5xx or a connection failure (and, for a streamed request,
    /// a stream that broke off or stalled).
    #[arg(long, env = "LLM_MAX_RETRIES", default_value_t = 2)]
    pub llm_max_retries: u32,
}

impl Default for LlmSettings {
    fn default() -> Self {
        crate::settings::defaults()
    }
}

impl LlmClient {
    /// `None` when no `LLM_BASE_URL` is configured (the offline generator is used then).
    pub fn from_settings(config: &LlmSettings) -> anyhow::Result<Option<Self>> {
        let Some(base_url) = config.llm_base_url.clone() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(config.llm_timeout)
            .connect_timeout(config.llm_timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Some(LlmClient {
            http,
            base_url,
            api_key: config.llm_api_key.clone(),
            model: config.llm_model.clone(),
            timeout: config.llm_timeout,
            max_retries: config.llm_max_retries,
        }))
    }

    /// Asks for a `T`, checks it with `check`, and gives the model one chance to repair a reply
    /// that fails to parse or to pass the check. `schema_name` is the request's purpose in
    /// traces and metrics (`llm_requests_total`, `llm_request_duration_seconds`); the messages
    /// never are.
    pub async fn ask<T, F>(
        &self,
        schema_name: &'static str,
        messages: Vec<Message>,
        check: F,
    ) -> Result<T, LlmError>
    where
        T: DeserializeOwned + JsonSchema,
        F: Fn(&T) -> Result<(), String>,
    {
        let span = tracing::info_span!(
            "llm.request",
            purpose = schema_name,
            model = %self.model,
            outcome = tracing::field::Empty,
        );
        // A duration for a metric, not a decision about time: the clock stays out of it.
        let started = std::time::Instant::now();
        let result = self
            .ask_with_repair(schema_name, messages, check)
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(LlmError::Timeout(_)) => "timeout",
            Err(LlmError::Status(_)) => "status",
            Err(LlmError::Transport(_)) => "transport",
            Err(LlmError::BadReply(_)) => "bad_reply",
        };
        span.record("outcome", outcome);
        metrics::counter!("llm_requests_total", "purpose" => schema_name, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("llm_request_duration_seconds", "purpose" => schema_name)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn ask_with_repair<T, F>(
        &self,
        schema_name: &str,
        messages: Vec<Message>,
        check: F,
    ) -> Result<T, LlmError>
    where
        T: DeserializeOwned + JsonSchema,
        F: Fn(&T) -> Result<(), String>,
    {
        self.ask_with(schema_name, messages, check, None).await
    }

    /// Like [`ask`](Self::ask), but the reply is streamed and `on_partial` sees the text received
    /// so far after each piece (an empty text whenever an attempt starts over). The finished
    /// reply is checked and repaired exactly as `ask` does.
    pub async fn ask_streamed<T, F>(
        &self,
        schema_name: &str,
        messages: Vec<Message>,
        check: F,
        on_partial: &mut (dyn FnMut(&str) + Send),
    ) -> Result<T, LlmError>
    where
        T: DeserializeOwned + JsonSchema,
        F: Fn(&T) -> Result<(), String>,
    {
        self.ask_with(schema_name, messages, check, Some(on_partial))
            .await
    }

    async fn ask_with<T, F>(
        &self,
        schema_name: &str,
        mut messages: Vec<Message>,
        check: F,
        mut on_partial: Option<&mut (dyn FnMut(&str) + Send)>,
    ) -> Result<T, LlmError>
    where
        T: DeserializeOwned + JsonSchema,
        F: Fn(&T) -> Result<(), String>,
    {
        let schema = response_schema::<T>();
        let mut last_problem = String::new();
        for round in 0..2 {
            let content = match on_partial.as_mut() {
                Some(on_partial) => {
                    self.complete_streamed(schema_name, &schema, &messages, &mut **on_partial)
                        .await?
                }
                None => self.complete(schema_name, &schema, &messages).await?,
            };
            let problem = match serde_json::from_str::<T>(&content) {
                Ok(value) => match check(&value) {
                    Ok(()) => return Ok(value),
                    Err(problem) => problem,
                },
                Err(err) => format!("the reply is not valid JSON for the schema ({err})"),
            };
            tracing::warn!(round, problem = %problem, "LLM reply rejected");
            messages.push(Message::assistant(content));
            messages.push(Message::user(format!(
                "That reply is invalid: {problem}. Reply again with the complete corrected JSON \
                 only, following every rule."
            )));
            last_problem = problem;
        }
        Err(LlmError::BadReply(last_problem))
    }

    fn request_body(&self, schema_name: &str, schema: &Value, messages: &[Message]) -> Value {
        json!({
            "model": self.model,
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": { "name": schema_name, "strict": true, "schema": schema },
            },
        })
    }

    /// One chat completion, retried with backoff on 429, 5xx and connection failures.
    async fn complete(
        &self,
        schema_name: &str,
        schema: &Value,
        messages: &[Message],
    ) -> Result<String, LlmError> {
        let body = self.request_body(schema_name, schema, messages);
        self.with_retries(&body, None, |resp| async move {
            let reply: Value = resp
                .json()
                .await
                .map_err(|e| LlmError::BadReply(format!("the response is not JSON: {e}")))?;
            extract_content(&reply)
        })
        .await
    }

    /// One streamed chat completion (`"stream": true`, server-sent events). A stream that
    /// breaks off, or stays silent for `LLM_TIMEOUT`, is retried like a connection failure.
    async fn complete_streamed(
        &self,
        schema_name: &str,
        schema: &Value,
        messages: &[Message],
        on_partial: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, LlmError> {
        let mut body = self.request_body(schema_name, schema, messages);
        body["stream"] = Value::Bool(true);
        let on_partial = std::sync::Mutex::new(on_partial);
        let on_partial = &on_partial;
        self.with_retries(&body, Some(STREAM_MAX_DURATION), |resp| async move {
            let mut partial = |text: &str| {
                let mut f = on_partial.lock().unwrap_or_else(|e| e.into_inner());
                (*f)(text)
            };
            partial("");
            read_stream(resp, self.timeout, &mut partial).await
        })
        .await
    }

    /// Sends `body`, hands a successful response to `read`, and retries with backoff on 429,
    /// 5xx and connection failures, and on whatever `read` calls retryable. `total` replaces
    /// the client's overall request timeout (a stream bounds its silences itself).
    async fn with_retries<R, Fut>(
        &self,
        body: &Value,
        total: Option<Duration>,
        read: R,
    ) -> Result<String, LlmError>
    where
        R: Fn(reqwest::Response) -> Fut,
        Fut: std::future::Future<Output = Result<String, LlmError>>,
    {
        let url = format!("{}/chat/completions", self.base_url);
        let mut attempt = 0;
        loop {
            let mut request = self.http.post(&url).json(body);
            if let Some(total) = total {
                request = request.timeout(total);
            }
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key.expose_secret());
            }
            // A stream's head must come within `LLM_TIMEOUT` too: only its body may take longer.
            let sent = match total {
                Some(_) => tokio::time::timeout(self.timeout, request.send())
                    .await
                    .map_err(|_| LlmError::Timeout(self.timeout))?,
                None => request.send().await,
            };
            let failure = match sent {
                Ok(resp) if resp.status().is_success() => match read(resp).await {
                    Ok(content) => return Ok(content),
                    Err(err @ (LlmError::Timeout(_) | LlmError::Transport(_))) => (err, true, None),
                    Err(err) => return Err(err),
                },
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.min(10)));
                    let retryable = status == 429 || status >= 500;
                    (LlmError::Status(status), retryable, retry_after)
                }
                // A whole request that timed out is not tried again: it would most likely
                // time out again, and the caller has waited long enough.
                Err(err) if err.is_timeout() => return Err(LlmError::Timeout(self.timeout)),
                // Never include the URL's query or headers: only the error kind.
                Err(err) => {
                    let retryable = err.is_connect() || err.is_request();
                    (
                        LlmError::Transport(err.without_url().to_string()),
                        retryable,
                        None,
                    )
                }
            };
            let (error, retryable, retry_after) = failure;
            if !retryable || attempt >= self.max_retries {
                return Err(error);
            }
            let backoff = retry_after.unwrap_or(Duration::from_millis(250 << attempt));
            tracing::warn!(attempt, error = %error, ?backoff, "LLM request failed; retrying");
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }
}

/// The longest a streamed reply may take in all; each silence is bounded by `LLM_TIMEOUT`.
const STREAM_MAX_DURATION: Duration = Duration::from_secs(10 * 60);

/// Reads a chat-completions event stream to its end and returns the message content. Each
/// event carries a `delta` of the message; the stream ends with `data: [DONE]` (or a chunk with
/// a `finish_reason`). Anything else that ends it, or a silence of `idle`, is a broken stream.
async fn read_stream(
    resp: reqwest::Response,
    idle: Duration,
    on_partial: &mut (dyn FnMut(&str) + Send),
) -> Result<String, LlmError> {
    use eventsource_stream::Eventsource;
    use futures_util::StreamExt;

    let mut events = resp.bytes_stream().eventsource();
    let mut content = String::new();
    let mut finished = false;
    loop {
        let event = match tokio::time::timeout(idle, events.next()).await {
            Err(_) => return Err(LlmError::Timeout(idle)),
            Ok(None) if finished => return Ok(content),
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
            return Ok(content);
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
            Some(reason) => {
                return Err(LlmError::BadReply(format!(
                    "the reply stopped early ({reason})"
                )));
            }
        }
    }
}

/// Counts the question objects completed so far in a quiz reply that is still arriving: the
/// objects closed inside the top-level `"questions"` array. Fed the text as it grows.
#[derive(Debug, Default)]
pub struct QuestionCounter {
    seen: usize,
    /// Open containers, `{` or `[`.
    stack: Vec<u8>,
    in_string: bool,
    escaped: bool,
    /// The last string read directly inside the top-level object (a key, once `:` follows).
    string: String,
    top_key: String,
    completed: usize,
}

impl QuestionCounter {
    /// The questions complete in `text`, which extends the text of the previous call (an empty
    /// or shorter text starts over).
    pub fn count(&mut self, text: &str) -> usize {
        if text.len() < self.seen || !text.is_char_boundary(self.seen) {
            *self = QuestionCounter::default();
        }
        for c in text[self.seen..].chars() {
            self.feed(c);
        }
        self.seen = text.len();
        self.completed
    }

    fn feed(&mut self, c: char) {
        let top_level = self.stack.len() == 1;
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
                return;
            } else if c == '"' {
                self.in_string = false;
                return;
            }
            if top_level && self.string.len() < 64 {
                self.string.push(c);
            }
            return;
        }
        match c {
            '"' => {
                self.in_string = true;
                self.string.clear();
            }
            ':' if top_level => self.top_key = std::mem::take(&mut self.string),
            '{' => self.stack.push(b'{'),
            '[' => self.stack.push(b'['),
            '}' | ']' => {
                let closed = self.stack.pop();
                if closed == Some(b'{') && self.stack == b"{[" && self.top_key == "questions" {
                    self.completed += 1;
                }
            }
            _ => {}
        }
    }
}

fn extract_content(reply: &Value) -> Result<String, LlmError> {
    let message = &reply["choices"][0]["message"];
    if let Some(refusal) = message["refusal"].as_str().filter(|r| !r.is_empty()) {
        return Err(LlmError::BadReply(format!("the model refused: {refusal}")));
    }
    message["content"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| LlmError::BadReply("the response has no message content".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_found_in_normalised_text() {
        let text = StudyText::new(
            "The crew: Neil A. Armstrong, Buzz Aldrin —\n and Michael Collins (July 16, 1969). \
             아폴로 11호는 달에 착륙했다. ＡＰＯＬＬＯ",
        );
        for stated in [
            "Neil A Armstrong",
            "neil a. armstrong",
            "  ALDRIN ",
            "Buzz Aldrin and Michael Collins",
            "July 16 1969",
            "16, 1969",
            "아폴로 11호",
            "달",
            "apollo",
        ] {
            assert!(text.states(stated), "{stated:?}");
        }
        for absent in ["Yuri Gagarin", "July 20, 1969", "Neil Armstrong", "...", ""] {
            assert!(!text.states(absent), "{absent:?}");
        }
    }

    #[test]
    fn questions_are_counted_as_they_complete() {
        let reply = json!({
            "title": "T {not} [a] \"question\"",
            "description": "d",
            "questions": [
                { "content": "q1 }", "answer_type": "true_false",
                  "choices": [{ "content": "True", "is_correct": true }], "explanation": "{" },
                { "content": "q2", "answer_type": "multiple_choice", "choices": [], "explanation": "" },
            ],
        })
        .to_string();
        let mut counter = QuestionCounter::default();
        let mut counts = Vec::new();
        for end in (0..=reply.len()).filter(|&i| reply.is_char_boundary(i)) {
            counts.push(counter.count(&reply[..end]));
        }
        assert_eq!(*counts.last().unwrap(), 2);
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "never goes back");
        let first = reply.find("\"q2\"").unwrap();
        assert_eq!(QuestionCounter::default().count(&reply[..first]), 1);
        assert_eq!(counter.count(""), 0, "an empty text starts over");
    }

    #[test]
    fn schemas_are_strict() {
        let schema = response_schema::<LlmQuiz>();
        let text = schema.to_string();
        assert!(!text.contains("\"format\""));
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["required"],
            json!(["title", "description", "questions"])
        );
        let question = &schema["$defs"]["LlmQuestion"];
        assert_eq!(question["additionalProperties"], false);
        assert_eq!(question["required"].as_array().unwrap().len(), 4);
    }
}
