//! What signing our access tokens with an asymmetric key would cost: the time to sign and to
//! verify one access token (the claims the server issues) with HS256 (what the server uses),
//! RS256 (RSA 2048, what Keycloak signs with by default) and EdDSA (Ed25519), through the same
//! `jsonwebtoken` crate and backend (`rust_crypto`) the server builds with.
//!
//! ```sh
//! cargo run --release --example token_signing -- [ROUNDS]
//! ```
//!
//! The RSA and Ed25519 keys are made for the run with the `openssl` command (jsonwebtoken reads
//! keys, it does not make them) in a temporary folder that is removed afterwards.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, ensure};
use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use quiz_llm::{
    auth::tokens::{AUDIENCE, Claims, ISSUER, TokenType},
    domain::{SessionId, UserId},
};

fn main() -> anyhow::Result<()> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(2_000);
    let dir = tempfile::tempdir()?;
    let rsa = rsa_key(dir.path())?;
    let ed = ed25519_key(dir.path())?;
    let secret = b"load-benchmark-secret-load-benchmark-secret";
    let keys = [
        (
            "HS256",
            Algorithm::HS256,
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        ),
        (
            "RS256 (RSA 2048)",
            Algorithm::RS256,
            EncodingKey::from_rsa_der(&rsa.private),
            DecodingKey::from_rsa_der(&rsa.public),
        ),
        (
            "EdDSA (Ed25519)",
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(&ed.private),
            DecodingKey::from_ed_der(&ed.public),
        ),
    ];
    let now = Utc::now();
    let claims = Claims {
        sub: UserId::new_random(),
        sid: SessionId::new_random(),
        iat: now.timestamp(),
        exp: (now + Duration::minutes(15)).timestamp(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        typ: TokenType::Access,
        r#gen: 3,
        jti: None,
        username: Some("load00001".into()),
    };
    println!("{rounds} rounds each, one thread");
    println!(
        "{:<18} {:>10} {:>12} {:>10} {:>10}",
        "algorithm", "µs/sign", "µs/verify", "signs/s", "token B"
    );
    for (name, algorithm, encoding, decoding) in keys {
        let mut header = Header::new(algorithm);
        header.kid = Some("0123456789abcdef".into());
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let started = Instant::now();
        let mut token = String::new();
        for _ in 0..rounds {
            token = jsonwebtoken::encode(&header, &claims, &encoding)?;
        }
        let sign = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        let started = Instant::now();
        for _ in 0..rounds {
            let decoded = jsonwebtoken::decode::<Claims>(&token, &decoding, &validation)?;
            ensure!(
                decoded.claims == claims,
                "{name}: the claims changed on the way"
            );
        }
        let verify = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!(
            "{name:<18} {sign:>10.1} {verify:>12.1} {:>10.0} {:>10}",
            1e6 / sign,
            token.len()
        );
    }
    Ok(())
}

struct KeyPair {
    private: Vec<u8>,
    public: Vec<u8>,
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running openssl (needed to make the RSA and Ed25519 keys)")?;
    ensure!(status.success(), "openssl {args:?} failed");
    Ok(())
}

/// A new RSA 2048 key pair, both halves as PKCS#1 DER (what jsonwebtoken's DER keys are).
fn rsa_key(dir: &Path) -> anyhow::Result<KeyPair> {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ],
    )?;
    openssl(
        dir,
        &[
            "rsa",
            "-in",
            "rsa.pem",
            "-traditional",
            "-outform",
            "DER",
            "-out",
            "rsa.der",
        ],
    )?;
    openssl(
        dir,
        &[
            "rsa",
            "-in",
            "rsa.pem",
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            "rsa.pub.der",
        ],
    )?;
    Ok(KeyPair {
        private: std::fs::read(dir.join("rsa.der"))?,
        public: std::fs::read(dir.join("rsa.pub.der"))?,
    })
}

/// A new Ed25519 key pair: the private half as PKCS#8 DER, the public half as its 32 bytes.
fn ed25519_key(dir: &Path) -> anyhow::Result<KeyPair> {
    openssl(dir, &["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"])?;
    openssl(
        dir,
        &["pkey", "-in", "ed.pem", "-outform", "DER", "-out", "ed.der"],
    )?;
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            "ed.pem",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "ed.pub.der",
        ],
    )?;
    let public = std::fs::read(dir.join("ed.pub.der"))?;
    ensure!(
        public.len() >= 32,
        "openssl wrote a short Ed25519 public key"
    );
    Ok(KeyPair {
        private: std::fs::read(dir.join("ed.der"))?,
        // The SubjectPublicKeyInfo ends with the raw key.
        public: public[public.len() - 32..].to_vec(),
    })
}
