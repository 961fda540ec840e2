//! Start-up validation: bad configuration stops the server with a message that says what is wrong.

use std::process::Command;

fn serve_with(env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quiz-llm"));
    cmd.current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LISTEN_ADDR", "127.0.0.1:0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run quiz-llm");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn bad_durations_are_named() {
    let (ok, out) = serve_with(&[("ACCESS_TOKEN_TTL", "15 parsecs")]);
    assert!(!ok);
    assert!(
        out.contains("access-token-ttl") || out.contains("ACCESS_TOKEN_TTL"),
        "{out}"
    );
    assert!(out.contains("15 parsecs"), "{out}");
}

#[test]
fn short_jwt_secrets_are_refused() {
    let (ok, out) = serve_with(&[("JWT_SECRET", "too-short")]);
    assert!(!ok);
    assert!(out.contains("JWT_SECRET") && out.contains("32"), "{out}");
    assert!(
        !out.contains("too-short"),
        "the secret itself is never printed: {out}"
    );
}

#[test]
fn short_previous_secrets_are_refused() {
    let (ok, out) = serve_with(&[
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        (
            "JWT_PREVIOUS_SECRETS",
            "fedcba9876543210fedcba9876543210, short-one",
        ),
    ]);
    assert!(!ok);
    assert!(out.contains("JWT_PREVIOUS_SECRETS entry 2"), "{out}");
    assert!(!out.contains("short-one"), "{out}");
}

#[test]
fn pool_sizes_are_bounded() {
    let (ok, out) = serve_with(&[("DATABASE_POOL_SIZE", "0")]);
    assert!(!ok);
    assert!(out.contains("DATABASE_POOL_SIZE"), "{out}");
}

#[test]
fn unknown_database_schemes_are_refused() {
    let (ok, out) = serve_with(&[("DATABASE_URL", "postgres://localhost/db")]);
    assert!(!ok);
    assert!(out.contains("mongodb://"), "{out}");
}

#[test]
fn unreachable_mongodb_stops_start_up() {
    let (ok, out) = serve_with(&[(
        "DATABASE_URL",
        "mongodb://127.0.0.1:9/quiz?serverSelectionTimeoutMS=1000",
    )]);
    assert!(!ok);
    assert!(out.contains("cannot reach MongoDB at 127.0.0.1:9"), "{out}");
}
