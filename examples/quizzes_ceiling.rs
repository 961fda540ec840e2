//! The stack's own ceiling for the `quizzes` shape: bare poem + async-graphql serving, from
//! memory, the `quizzes(first: 20)` response the load benchmark reads from the real server. No
//! store, no auth, no middleware; what the server does beyond this is the project's own cost.
//!
//! ```sh
//! quizzes_ceiling 127.0.0.1:PORT RESPONSE.json
//! ```
//!
//! `RESPONSE.json` is a GraphQL response (`{"data": {"quizzes": …}}`) for
//! `{ quizzes(first: 20) { totalCount edges { node { id title questions { number content
//! choices { number content } } } } } }`. `examples/load.rs` starts this as a child process.

use async_graphql::{Context, EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};
use serde::Deserialize;

#[derive(Clone, Deserialize, SimpleObject)]
struct Choice {
    number: i32,
    content: String,
}

#[derive(Clone, Deserialize, SimpleObject)]
struct Question {
    number: i32,
    content: String,
    choices: Vec<Choice>,
}

#[derive(Clone, Deserialize, SimpleObject)]
struct Quiz {
    id: ID,
    title: String,
    questions: Vec<Question>,
}

#[derive(Clone, Deserialize, SimpleObject)]
struct QuizEdge {
    node: Quiz,
}

#[derive(Clone, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
struct QuizConnection {
    total_count: i32,
    edges: Vec<QuizEdge>,
}

struct Query;

#[Object]
impl Query {
    /// The stored page, cloned per request as a resolver over owned records would build it.
    async fn quizzes(&self, ctx: &Context<'_>, first: Option<i32>) -> QuizConnection {
        let mut page = ctx.data_unchecked::<QuizConnection>().clone();
        page.edges
            .truncate(usize::try_from(first.unwrap_or(20)).unwrap_or(0));
        page
    }
}

#[derive(Deserialize)]
struct Response {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    quizzes: QuizConnection,
}

#[poem::handler]
fn healthz() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(path)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: quizzes_ceiling 127.0.0.1:PORT RESPONSE.json");
    };
    let response: Response = serde_json::from_slice(&std::fs::read(&path)?)?;
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(response.data.quizzes)
        .finish();
    let app = poem::Route::new()
        .at(
            "/graphql",
            poem::post(async_graphql_poem::GraphQL::new(schema)),
        )
        .at("/healthz", poem::get(healthz));
    poem::Server::new(poem::listener::TcpListener::bind(addr))
        .run(app)
        .await?;
    Ok(())
}
