//! GraphiQL's browser assets for `/graphiql`: pinned production builds of React, ReactDOM and
//! GraphiQL, fetched from the npm registry with `npm pack` into `OUT_DIR` and embedded in the
//! binary, so the page works with no internet and its CSP names no other origin. Nothing of
//! them is committed. Every file is checked against the Subresource Integrity hash pinned here;
//! the same hashes let the page load the same files from a CDN when the build could not embed
//! them (no npm, no registry): then the build says so, and so does the server when it starts.
//!
//! `QUIZ_LLM_GRAPHIQL_ASSETS`: `auto` (the default: embed when npm works, else the CDN),
//! `cdn` (never run npm) or `embed` (fail the build rather than fall back; the Dockerfile uses
//! it). The files are kept in `OUT_DIR`, and the script reruns only when this file or that
//! variable changes, so an ordinary `cargo build` never runs npm again.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha384};

struct Asset {
    package: &'static str,
    version: &'static str,
    /// Inside the package.
    file: &'static str,
    /// The name it is served under, `/graphiql/assets/<name>` (versioned, so it never changes).
    name: &'static str,
    integrity: &'static str,
    content_type: &'static str,
}

/// The pinned versions: the last GraphiQL with a browser (UMD) build, and the React it runs on.
const ASSETS: [Asset; 4] = [
    Asset {
        package: "react",
        version: "18.3.1",
        file: "umd/react.production.min.js",
        name: "react-18.3.1.production.min.js",
        integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        package: "react-dom",
        version: "18.3.1",
        file: "umd/react-dom.production.min.js",
        name: "react-dom-18.3.1.production.min.js",
        integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        package: "graphiql",
        version: "4.1.2",
        file: "graphiql.min.js",
        name: "graphiql-4.1.2.min.js",
        integrity: "sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B",
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        package: "graphiql",
        version: "4.1.2",
        file: "graphiql.min.css",
        name: "graphiql-4.1.2.min.css",
        integrity: "sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr",
        content_type: "text/css; charset=utf-8",
    },
];

/// Where the page loads the assets from when they are not embedded.
const CDN: &str = "https://unpkg.com";
const MODE_VAR: &str = "QUIZ_LLM_GRAPHIQL_ASSETS";
/// One `npm pack` may take this long (a registry that does not answer must not hang the build).
const NPM_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed={MODE_VAR}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("graphiql");
    let mode = std::env::var(MODE_VAR).unwrap_or_default();
    let embedded = match mode.trim() {
        "cdn" => false,
        "" | "auto" => match fetch_all(&dir) {
            Ok(()) => true,
            Err(problem) => {
                println!(
                    "cargo::warning=GraphiQL's assets are not embedded ({problem}): /graphiql will \
                     load them from {CDN} (pinned, with SRI). Build with npm and registry access \
                     for a page that works offline."
                );
                false
            }
        },
        "embed" => match fetch_all(&dir) {
            Ok(()) => true,
            Err(problem) => {
                panic!("{MODE_VAR}=embed, but GraphiQL's assets could not be embedded: {problem}")
            }
        },
        other => panic!("{MODE_VAR} must be auto, cdn or embed, not {other:?}"),
    };
    std::fs::write(out.join("graphiql_assets.rs"), generated(&dir, embedded))
        .expect("cannot write graphiql_assets.rs");
}

/// Puts every asset in `dir`, checked against its hash; files already there and intact are kept.
fn fetch_all(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for asset in &ASSETS {
        let target = dir.join(asset.name);
        if std::fs::read(&target).is_ok_and(|bytes| integrity(&bytes) == asset.integrity) {
            continue;
        }
        let unpacked = unpack(dir, asset.package, asset.version)?;
        let bytes = std::fs::read(unpacked.join(asset.file)).map_err(|e| {
            format!(
                "{}@{} has no {}: {e}",
                asset.package, asset.version, asset.file
            )
        })?;
        let actual = integrity(&bytes);
        if actual != asset.integrity {
            return Err(format!(
                "{}@{}/{} is {actual}, not the pinned {}",
                asset.package, asset.version, asset.file, asset.integrity
            ));
        }
        std::fs::write(&target, bytes)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    // The packages are not needed once their files are out (GraphiQL's alone is 8 MB).
    for asset in &ASSETS {
        let _ = std::fs::remove_dir_all(dir.join(format!("{}-{}", asset.package, asset.version)));
    }
    Ok(())
}

/// `npm pack package@version` and `tar -x` into `dir/package-version/`; returns the package's
/// folder.
fn unpack(dir: &Path, package: &str, version: &str) -> Result<PathBuf, String> {
    let unpacked = dir.join(format!("{package}-{version}"));
    let root = unpacked.join("package");
    if root.join("package.json").exists() {
        return Ok(root);
    }
    std::fs::create_dir_all(&unpacked).map_err(|e| e.to_string())?;
    let spec = format!("{package}@{version}");
    let packed = run(
        Command::new("npm")
            .args(["pack", &spec, "--silent", "--pack-destination"])
            .arg(&unpacked)
            .current_dir(&unpacked),
        &format!("npm pack {spec}"),
    )?;
    let tarball = packed
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.ends_with(".tgz"))
        .ok_or_else(|| format!("npm pack {spec} named no tarball: {packed:?}"))?;
    run(
        Command::new("tar")
            .arg("-xzf")
            .arg(unpacked.join(tarball))
            .arg("-C")
            .arg(&unpacked),
        &format!("tar -xzf {tarball}"),
    )?;
    Ok(root)
}

/// Runs a command with a deadline; its standard output, or why it failed.
fn run(command: &mut Command, what: &str) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > NPM_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} took longer than {NPM_TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("{what} failed ({}): {last}", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn integrity(bytes: &[u8]) -> String {
    format!("sha384-{}", STANDARD.encode(Sha384::digest(bytes)))
}

/// The Rust the server includes: each asset's name, CDN URL, hash and, when embedded, bytes.
fn generated(dir: &Path, embedded: bool) -> String {
    let mut code = String::from("// Generated by build.rs.\n");
    writeln!(code, "pub const EMBEDDED: bool = {embedded};").unwrap();
    writeln!(code, "pub const CDN_ORIGIN: &str = {CDN:?};").unwrap();
    code.push_str("pub static ASSETS: [Asset; 4] = [\n");
    for asset in &ASSETS {
        let bytes = if embedded {
            format!(
                "include_bytes!({:?})",
                dir.join(asset.name).display().to_string()
            )
        } else {
            "&[]".to_owned()
        };
        writeln!(
            code,
            "    Asset {{ name: {:?}, cdn_url: {:?}, integrity: {:?}, content_type: {:?}, bytes: {bytes} }},",
            asset.name,
            format!("{CDN}/{}@{}/{}", asset.package, asset.version, asset.file),
            asset.integrity,
            asset.content_type,
        )
        .unwrap();
    }
    code.push_str("];\n");
    code
}
