//! Command line: `quiz-llm [serve] [flags]` runs the server; `quiz-llm print-schema` prints the
//! SDL; `quiz-llm print-config --markdown` the configuration reference; `quiz-llm outbox
//! retry-dead` queues e-mails that failed every attempt again; `quiz-llm admin user …` shows,
//! disables, enables an account, ends its sessions or mails its verification link again.

use std::{future::Future, process::ExitCode};

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use quiz_llm::{
    Application, Settings,
    auth::admin::NoVerificationNeeded,
    domain::{AppError, SystemClock},
    mail::outbox,
    store::{self, StoreSettings},
    telemetry::logging::LogOutput,
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
    /// Operators' tools. Exit status: 0 done, 1 error (bad configuration, store unreachable),
    /// 2 usage, 3 no such user.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// One account: look at it, disable or enable it, end its sessions, mail its verification
    /// link again. Reads the same settings as `serve`.
    #[command(subcommand)]
    User(UserCommand),
}

/// The sub-commands of `admin user`, as the configuration hooks name them.
const USER_COMMANDS: [&str; 6] = [
    "show",
    "disable",
    "enable",
    "end-sessions",
    "delete",
    "resend-verification",
];

#[derive(Subcommand)]
enum UserCommand {
    /// Print the account: profile, sessions, sign-in factors and counts (never a secret).
    Show {
        #[command(flatten)]
        target: Target,
        /// As JSON, for scripts (the field names stay), instead of a table for people.
        #[arg(long)]
        json: bool,
    },
    /// Turn the account off: every session ends at once, and login and refresh answer
    /// ACCOUNT_DISABLED until it is enabled again.
    Disable(Target),
    /// Turn a disabled account on again.
    Enable(Target),
    /// End every session of the account, on every device.
    EndSessions(Target),
    /// Erase the account and everything in it, as deleteAccount does: there is no undo.
    Delete {
        #[command(flatten)]
        target: Target,
        /// The account's username again, so that a mistyped <who> erases nothing.
        #[arg(long, required = true)]
        confirm: String,
    },
    /// Mail a new verification link to an account that has not confirmed its address.
    ResendVerification(Target),
}

#[derive(Args)]
struct Target {
    /// The account: a username, an e-mail address or a user id.
    who: String,
    /// Who runs this (for the audit log).
    #[arg(long, required = true)]
    actor: String,
    #[command(flatten)]
    settings: Box<Settings>,
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
        })
        .mut_subcommand("admin", |admin| {
            admin.mut_subcommand("user", |user| {
                USER_COMMANDS.iter().fold(user, |user, name| {
                    user.mut_subcommand(name, quiz_llm::config::parse::ignore_empty_env)
                })
            })
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
        Command::Admin(AdminCommand::User(command)) => {
            let (target, action) = match command {
                UserCommand::Show { target, json } => (target, Action::Show { json }),
                UserCommand::Disable(target) => (target, Action::Disable),
                UserCommand::Enable(target) => (target, Action::Enable),
                UserCommand::EndSessions(target) => (target, Action::EndSessions),
                UserCommand::Delete { target, confirm } => (target, Action::Delete { confirm }),
                UserCommand::ResendVerification(target) => (target, Action::ResendVerification),
            };
            let Target {
                who,
                actor,
                settings,
            } = target;
            // Standard output is the answer here; the log goes to standard error.
            run(*settings, LogOutput::Stderr, 1, move |settings| {
                admin_user(settings, action, who, actor)
            })
        }
    }
}

/// Validates the settings, starts logging and the async runtime, and runs `task`; an error
/// ends the process with a message.
fn with_settings<F, Fut>(settings: Settings, task: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    run(settings, LogOutput::Stdout, 2, |settings| async {
        task(settings).await.map(|()| ExitCode::SUCCESS)
    })
}

/// [`with_settings`] for a task that picks its own exit status, logging to `log_output` and
/// ending with `bad_config` when the settings do not hold.
fn run<F, Fut>(settings: Settings, log_output: LogOutput, bad_config: u8, task: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    if let Err(err) = settings.validate() {
        eprintln!("error: {err:#}");
        return ExitCode::from(bad_config);
    }
    let traces = match quiz_llm::telemetry::logging::init_to(
        settings.log_format,
        &settings.telemetry,
        log_output,
    ) {
        Ok(traces) => traces,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(bad_config);
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
        Ok(status) => status,
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

/// What `admin user` does to the account it names.
enum Action {
    Show { json: bool },
    Disable,
    Enable,
    EndSessions,
    Delete { confirm: String },
    ResendVerification,
}

/// The exit status for "no such user".
const NO_SUCH_USER: u8 = 3;

/// The store's or mailer's failure as the process reports it (no other error reaches here).
fn failed(err: AppError) -> anyhow::Error {
    match err {
        AppError::Internal(err) => err,
        other => anyhow::anyhow!("{}", other.code()),
    }
}

async fn admin_user(
    settings: Settings,
    action: Action,
    who: String,
    actor: String,
) -> anyhow::Result<ExitCode> {
    if matches!(action, Action::ResendVerification) && settings.auth.jwt_secret.is_none() {
        anyhow::bail!("JWT_SECRET is not set: the link must be signed with the server's key");
    }
    let auth = quiz_llm::operator_auth(&settings)
        .await
        .context("cannot start")?;
    let Some(user) = auth.admin_find_user(&who).await.map_err(failed)? else {
        eprintln!("error: no user {who:?} (no username, e-mail address or user id matches)");
        return Ok(ExitCode::from(NO_SUCH_USER));
    };
    match action {
        Action::Show { json } => {
            let report = auth.admin_report(&user).await.map_err(failed)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_table());
            }
        }
        Action::Disable => {
            let ended = auth.admin_disable(&user, &actor).await.map_err(failed)?;
            println!(
                "{} ({}) disabled; {ended} session(s) ended",
                user.username, user.id
            );
        }
        Action::Enable => {
            auth.admin_enable(&user, &actor).await.map_err(failed)?;
            println!("{} ({}) enabled", user.username, user.id);
        }
        Action::EndSessions => {
            let ended = auth
                .admin_end_sessions(&user, &actor)
                .await
                .map_err(failed)?;
            println!("{} ({}): {ended} session(s) ended", user.username, user.id);
        }
        Action::Delete { confirm } => {
            if !user.is_named(&confirm) {
                anyhow::bail!(
                    "nothing deleted: --confirm {confirm:?} is not the username of {who:?} ({})",
                    user.username
                );
            }
            auth.admin_delete(&user, &actor).await.map_err(failed)?;
            println!(
                "{} ({}) deleted with everything in it",
                user.username, user.id
            );
        }
        Action::ResendVerification => {
            match auth
                .admin_resend_verification(&user, &actor)
                .await
                .map_err(failed)?
            {
                Ok(()) => println!(
                    "verification link mailed to {} ({})",
                    user.username, user.id
                ),
                Err(why) => {
                    let why = match why {
                        NoVerificationNeeded::AlreadyVerified => "its address is already verified",
                        NoVerificationNeeded::Guest => "a guest has no address",
                    };
                    anyhow::bail!("nothing sent to {} ({}): {why}", user.username, user.id);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
