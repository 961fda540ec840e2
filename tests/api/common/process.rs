//! The server binary as a child process, for tests of what only a whole process shows: its
//! log output, its exit on SIGTERM, its exported traces.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use super::Client;

/// The server binary as a child process on ports it picked itself, logging JSON to a file.
pub struct ServerProcess {
    child: Child,
    pub base_url: String,
    pub log: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    pub async fn start(env: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_quiz-llm"))
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", "sqlite::memory:")
            .env("MAIL_DIR", dir.path().join("mail"))
            .env("JWT_SECRET", "telemetry-secret-telemetry-secret!!")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            // Stop at once on SIGTERM, and hash at argon2's cheapest cost: neither is tested here.
            .env("SHUTDOWN_DRAIN", "0s")
            .env("PASSWORD_HASH_MEMORY_KIB", "8")
            .env("PASSWORD_HASH_ITERATIONS", "1")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = ServerProcess {
            child,
            base_url: String::new(),
            log,
            dir,
        };
        server.base_url = server.logged_url("listening on ").await;
        server
    }

    /// The URL the server logged after `prefix` at start-up (`listening on http://…`).
    pub async fn logged_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.records().into_iter().find_map(|r| {
                r["message"]
                    .as_str()?
                    .strip_prefix(prefix)
                    .map(str::to_owned)
            });
            if let Some(url) = found {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not log {prefix:?}: {:?}",
                std::fs::read_to_string(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The JSON log records written so far.
    pub fn records(&self) -> Vec<Value> {
        records(&self.log)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    /// Stops the server as SIGTERM does, and waits for it to exit.
    pub fn terminate(&mut self) {
        // SAFETY: kill(2) with the id of a child this test started and has not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn records(log: &Path) -> Vec<Value> {
    let Ok(file) = std::fs::File::open(log) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}
