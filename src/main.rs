//! Command line: `quiz-llm [serve] [flags]` runs the server; `quiz-llm print-schema` prints the
//! SDL; `quiz-llm print-config --markdown` the configuration reference; `quiz-llm outbox
//! retry-dead` queues e-mails that failed every attempt again.

use std::{future::Future, process::ExitCode};

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use quiz_llm::{
    Application, Settings,
    domain::SystemClock,
    mail::outbox,
    store::{self, StoreSettings},
};

#[derive(Parser)]
#[command(
    name = "quiz-llm",
    version,
    about = "GraphQL API server for LLM-generated quizzes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(Box<Settings>),
    /// Print the GraphQL schema (SDL); schema.graphql is exactly this output.
    PrintSchema,
    /// Print the configuration reference: every setting of `serve` with its variable, flag,
    /// default and meaning; docs/configuration-reference.md is exactly this output.
    PrintConfig {
        /// As Markdown (the only format for now).
        #[arg(long, required = true)]
        markdown: bool,
    },
    /// The persistent e-mail outbox.
    #[command(subcommand)]
    Outbox(OutboxCommand),
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Queue every dead letter (an e-mail that failed all its attempts) for delivery again; a
    /// running server sends them at its next poll. Reads the same settings as `serve`.
    RetryDead(Box<Settings>),
}

/// mimalloc: per-request allocations (GraphQL values, JSON, store rows) are most of the CPU a
/// request costs beyond the work itself, and it makes them markedly cheaper than glibc's malloc
/// (`examples/load.rs` shows µs per request). It also returns freed memory to the system, so the
/// 19 MiB argon2id buffers of a login storm do not stay resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth saying.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("error: cannot read .env: {err}");
        return ExitCode::FAILURE;
    }
    let mut args: Vec<String> = std::env::args().collect();
    // `quiz-llm` and `quiz-llm --flag …` mean `quiz-llm serve …`.
    if args.get(1).is_none_or(|a| {
        a.starts_with('-') && !matches!(a.as_str(), "-h" | "--help" | "-V" | "--version")
    }) {
        args.insert(1, "serve".into());
    }
    let cmd = Cli::command()
        .mut_subcommand("serve", quiz_llm::config::parse::ignore_empty_env)
        .mut_subcommand("outbox", |outbox| {
            outbox.mut_subcommand("retry-dead", quiz_llm::config::parse::ignore_empty_env)
        });
    let matches = cmd.get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::PrintSchema => {
            print!("{}", quiz_llm::graphql::sdl());
            ExitCode::SUCCESS
        }
        Command::PrintConfig { markdown: _ } => {
            print!(
                "{}",
                quiz_llm::config::reference::markdown(&Settings::command())
            );
            ExitCode::SUCCESS
        }
        Command::Serve(settings) => with_settings(*settings, serve),
        Command::Outbox(OutboxCommand::RetryDead(settings)) => with_settings(*settings, retry_dead),
    }
}

/// Validates the settings, starts logging and the async runtime, and runs `task`; an error
/// ends the process with a message.
fn with_settings<F, Fut>(settings: Settings, task: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    if let Err(err) = settings.validate() {
        eprintln!("error: {err:#}");
        return ExitCode::from(2);
    }
    let traces = match quiz_llm::telemetry::logging::init(settings.log_format, &settings.telemetry)
    {
        Ok(traces) => traces,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let status = match runtime.block_on(task(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    };
    // Outside the runtime: the exporter's client blocks while it sends the last spans.
    drop(runtime);
    if let Some(traces) = traces {
        traces.shutdown();
    }
    status
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await.context("cannot start")?;
    app.run_until(quiz_llm::shutdown_signal())
        .await
        .context("server failed")
}

async fn retry_dead(settings: Settings) -> anyhow::Result<()> {
    let StoreSettings {
        database_url,
        options,
    } = &settings.store;
    let store = store::connect_with(database_url, *options).await?;
    let requeued = outbox::retry_dead(&*store, &SystemClock).await?;
    println!("{requeued} dead e-mail(s) queued for delivery again");
    Ok(())
}
