//! A generic OpenAI-compatible chat-completions client. The reply's shape is enforced by
//! structured output (`response_format: json_schema`, `strict: true`) with a schema derived from
//! the caller's Rust type, then checked again with the caller's check, with one repair round for
//! a reply that does not hold up. It knows nothing of quizzes: their reply types, prompts and
//! checks live in `quiz`.
//!
//! Hand-written rather than `async-openai`: measured (docs/benchmarks.md), its client retries
//! 429 and 5xx inside every call (4 requests, 21 s on one `Retry-After: 7`) beneath our own
//! retries, loses the status of a non-JSON error, and logs unparsed bodies at `ERROR`.

mod schema;
mod stream;

use std::time::Duration;

use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tracing::Instrument;

pub use schema::response_schema;
use stream::read_stream;

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
    max_tokens: Option<u32>,
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

/// `LLM_*`: the OpenAI-compatible API that writes quizzes and feedback.
#[derive(Debug, Clone, clap::Args)]
pub struct LlmSettings {
    /// OpenAI-compatible API base, e.g. https://api.openai.com/v1; unset: offline generator.
    #[arg(long, env = "LLM_BASE_URL", value_parser = crate::config::parse::parse_http_url)]
    pub llm_base_url: Option<String>,
    /// Bearer key for the LLM API.
    #[arg(long, env = "LLM_API_KEY", hide_env_values = true, value_parser = crate::config::parse::parse_secret)]
    pub llm_api_key: Option<SecretString>,
    /// The model that writes quizzes and feedback.
    #[arg(long, env = "LLM_MODEL", default_value = "gpt-4o-mini")]
    pub llm_model: String,
    /// How long one LLM request may take; a streamed one (generation jobs), how long it may
    /// stay silent.
    #[arg(long, env = "LLM_TIMEOUT", default_value = "60s", value_parser = crate::config::parse::parse_duration)]
    pub llm_timeout: Duration,
    /// Extra attempts after a 429, a 5xx or a connection failure (and, for a streamed request,
    /// a stream that broke off or stalled).
    #[arg(long, env = "LLM_MAX_RETRIES", default_value_t = 2)]
    pub llm_max_retries: u32,
    /// The most tokens one reply may have (`max_tokens`); unset: the provider's limit. A reply
    /// that reaches it is cut off and counts as a failed attempt.
    #[arg(long, env = "LLM_MAX_TOKENS")]
    pub llm_max_tokens: Option<u32>,
}

impl Default for LlmSettings {
    fn default() -> Self {
        crate::config::parse::defaults()
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
            max_tokens: config.llm_max_tokens,
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
            let Completion { content, cut_off } = match on_partial.as_mut() {
                Some(on_partial) => {
                    self.complete_streamed(schema_name, &schema, &messages, &mut **on_partial)
                        .await?
                }
                None => self.complete(schema_name, &schema, &messages).await?,
            };
            let problem = if cut_off {
                // Often still parseable up to where it stopped, but never complete: a failed
                // attempt, whatever it holds.
                tracing::warn!(
                    round,
                    chars = content.chars().count(),
                    "LLM reply cut off at the token limit (finish_reason: length); counted as a \
                     failed attempt"
                );
                "the reply was cut off at the token limit".to_owned()
            } else {
                let problem = match serde_json::from_str::<T>(&content) {
                    Ok(value) => match check(&value) {
                        Ok(()) => return Ok(value),
                        Err(problem) => problem,
                    },
                    Err(err) => format!("the reply is not valid JSON for the schema ({err})"),
                };
                tracing::warn!(round, problem = %problem, "LLM reply rejected");
                problem
            };
            messages.extend(repair_messages(content, cut_off, &problem));
            last_problem = problem;
        }
        Err(LlmError::BadReply(last_problem))
    }

    fn request_body(&self, schema_name: &str, schema: &Value, messages: &[Message]) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": { "name": schema_name, "strict": true, "schema": schema },
            },
        });
        if let Some(max_tokens) = self.max_tokens {
            body["max_tokens"] = max_tokens.into();
        }
        body
    }

    /// One chat completion, retried with backoff on 429, 5xx and connection failures.
    async fn complete(
        &self,
        schema_name: &str,
        schema: &Value,
        messages: &[Message],
    ) -> Result<Completion, LlmError> {
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
    ) -> Result<Completion, LlmError> {
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
    ) -> Result<Completion, LlmError>
    where
        R: Fn(reqwest::Response) -> Fut,
        Fut: std::future::Future<Output = Result<Completion, LlmError>>,
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

fn extract_content(reply: &Value) -> Result<Completion, LlmError> {
    let choice = &reply["choices"][0];
    let message = &choice["message"];
    if let Some(refusal) = message["refusal"].as_str().filter(|r| !r.is_empty()) {
        return Err(LlmError::BadReply(format!("the model refused: {refusal}")));
    }
    let content = message["content"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| LlmError::BadReply("the response has no message content".into()))?;
    Ok(Completion {
        content,
        cut_off: choice["finish_reason"] == "length",
    })
}

/// A reply's text, and whether it stopped at the token limit (`finish_reason: "length"`), which
/// leaves it incomplete whatever it looks like.
struct Completion {
    content: String,
    cut_off: bool,
}

/// A rejected reply longer than this is not sent back in the repair round (it could overflow a
/// small model's context, as a 15 KB run-on reply once did); a note of what was wrong goes instead.
const REPAIR_ECHO_MAX_CHARS: usize = 4_000;

/// The longest problem description sent back: enough to say what to fix.
const PROBLEM_MAX_CHARS: usize = 600;

/// The messages that ask the model to repair `content`, rejected for `problem`.
fn repair_messages(content: String, cut_off: bool, problem: &str) -> Vec<Message> {
    let problem: String = match problem.char_indices().nth(PROBLEM_MAX_CHARS) {
        Some((end, _)) => format!("{}…", &problem[..end]),
        None => problem.to_owned(),
    };
    let again = "Reply again with the complete corrected JSON only, following every rule.";
    if cut_off {
        return vec![Message::user(format!(
            "Your previous reply was cut off at the length limit before it was complete. {again} \
             Keep every text short."
        ))];
    }
    let length = content.chars().count();
    if length > REPAIR_ECHO_MAX_CHARS {
        return vec![Message::user(format!(
            "Your previous reply ({length} characters, too long to repeat here) is invalid: \
             {problem}. {again} Keep every text short."
        ))];
    }
    vec![
        Message::assistant(content),
        Message::user(format!("That reply is invalid: {problem}. {again}")),
    ]
}
