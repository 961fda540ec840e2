//! Runs the release server as a child process for the benchmarks, so its memory and CPU are
//! measured apart from the client's.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

/// How long the server may take to answer `/healthz` after it was started.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to stop after SIGTERM (its own grace period is 20 s; after
/// this it is killed).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The release server next to this example (`target/release/examples/load` →
/// `target/release/quiz-llm`), or under `$CARGO_TARGET_DIR`.
pub fn server_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let beside = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("quiz-llm"));
    let in_target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| PathBuf::from(d).join("release").join("quiz-llm"));
    let candidates: Vec<PathBuf> = beside.into_iter().chain(in_target).collect();
    let binary = candidates.iter().find(|p| p.is_file()).with_context(|| {
        format!(
            "the release server binary is missing (looked at {candidates:?}); build it first: \
             cargo build --release --bin quiz-llm"
        )
    })?;
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    if built < newest_modification(&sources) {
        eprintln!(
            "note: {} is older than src/; rebuild it with cargo build --release --bin quiz-llm",
            binary.display()
        );
    }
    Ok(binary.clone())
}

/// The latest modification time of the files under `dir`.
pub fn newest_modification(dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            if entry.file_type().ok()?.is_dir() {
                newest_modification(&entry.path())
            } else {
                entry.metadata().ok()?.modified().ok()
            }
        })
        .max()
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The server's resident memory, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_mib: f64,
    pub peak_mib: f64,
}

pub fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        rss_mib: kib("VmRSS:")? / 1024.0,
        peak_mib: kib("VmHWM:")? / 1024.0,
    })
}

pub struct ServerProcess {
    child: tokio::process::Child,
    pub pid: u32,
    pub base_url: String,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts the release binary in `dir` (`{listen}` in a value becomes the address it listens
    /// on) and waits until `/healthz` answers.
    pub async fn start(dir: &Path, env: &[(String, String)]) -> anyhow::Result<Self> {
        let binary = server_binary()?;
        let listen = format!("127.0.0.1:{}", free_port()?);
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log)?;
        let child = tokio::process::Command::new(&binary)
            .env_clear()
            // Away from the project's .env, which the server would read.
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v.replace("{listen}", &listen))))
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = ServerProcess {
            pid: child.id().context("the server has no pid")?,
            child,
            base_url: format!("http://{listen}"),
            log,
        };
        server.wait_healthy().await?;
        println!(
            "server {} (pid {}) on {}",
            binary.display(),
            server.pid,
            server.base_url
        );
        Ok(server)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build()?;
        let url = format!("{}/healthz", self.base_url);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited ({status}):\n{}", self.log_tail());
            }
            if let Ok(resp) = http.get(&url).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "the server did not answer /healthz within {STARTUP_TIMEOUT:?}:\n{}",
            self.log_tail()
        )
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub fn memory(&self) -> Option<Memory> {
        memory_of(self.pid)
    }

    /// SIGTERM, then waits for the graceful shutdown; kills it when that takes too long.
    pub async fn stop(mut self) {
        let _ = tokio::process::Command::new("kill")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            eprintln!("the server did not stop within {SHUTDOWN_TIMEOUT:?}; killing it");
            let _ = self.child.kill().await;
        }
    }
}
