//! The rooms of the crate stay in order: each top-level module names only the modules its row
//! of [`ALLOWED`] lists (http → graphql → services → domain ← store, plus the cross-cutting
//! modules), so no back-edge and no cycle can creep in, and the domain depends on none.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

/// Which top-level modules each one's shipping code may name. The rooms, from the left:
/// `http` (transport) → `graphql` (schema, thin resolvers) → the services `auth`, `quiz`,
/// `mail` (auth may send mail; services never use each other otherwise) → `ratelimit` (limits
/// both auth and quiz count against, so neither needs the other) → `store` (traits and
/// back ends) → `domain` (depends on nothing); `llm`, a generic chat-completions client, is used
/// by `quiz` and knows no service. Cross-cutting: `cpu` and `telemetry` may be used by any room
/// and use only the domain, and so may `i18n` (the message catalogues); `config` (how settings
/// are read: the parsers and the reference page) may be used by any room and uses none. Each
/// room owns its settings struct; the crate root (`lib.rs`, which has no row) gathers them into
/// `Settings` beside `Application`, so nothing that every room uses depends on every room.
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("config", &[]),
    ("cpu", &["domain"]),
    ("i18n", &["domain"]),
    ("telemetry", &["domain", "config"]),
    ("store", &["domain", "config", "telemetry", "cpu"]),
    ("ratelimit", &["domain", "store", "config", "telemetry"]),
    (
        "mail",
        &["domain", "store", "config", "telemetry", "cpu", "i18n"],
    ),
    // A generic chat-completions client: it knows no service.
    ("llm", &["config", "telemetry"]),
    (
        "auth",
        &[
            "mail",
            "ratelimit",
            "store",
            "domain",
            "config",
            "telemetry",
            "cpu",
            "i18n",
        ],
    ),
    (
        "quiz",
        &[
            "llm",
            "ratelimit",
            "store",
            "domain",
            "config",
            "telemetry",
            "cpu",
            "i18n",
        ],
    ),
    // Resolvers call services, never the store.
    (
        "graphql",
        &[
            "auth",
            "quiz",
            "ratelimit",
            "domain",
            "config",
            "telemetry",
            "cpu",
            "i18n",
        ],
    ),
    // The store only for readiness and stream leases; the quiz service only through graphql.
    (
        "http",
        &[
            "graphql",
            "auth",
            "ratelimit",
            "store",
            "domain",
            "config",
            "telemetry",
            "cpu",
            "i18n",
        ],
    ),
];

/// Top-level module → the top-level modules its non-test code names through `crate::`.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tops: BTreeSet<String> = fs::read_dir(&src)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.trim_end_matches(".rs").to_owned())
        })
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut deps = BTreeMap::new();
    for top in &tops {
        let mut named = BTreeSet::new();
        let dir = src.join(top);
        let mut files = vec![src.join(format!("{top}.rs"))];
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        for file in files.iter().filter(|f| f.exists()) {
            let code = without_test_items(&fs::read_to_string(file).unwrap());
            for other in &tops {
                if other != top && names(&code, other) {
                    named.insert(other.clone());
                }
            }
        }
        deps.insert(top.clone(), named);
    }
    deps
}

/// `code` without the items marked `#[cfg(test)]` (unit tests may reach anywhere; only the
/// code that ships counts): each such attribute and the item after it, up to its `;` or its
/// closing brace, go; what follows the item stays.
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut kept = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        kept.push_str(&rest[..at]);
        rest = &rest[at + MARK.len()..];
        rest = &rest[item_end(rest)..];
    }
    kept.push_str(rest);
    kept
}

/// The byte just past the item at the start of `code`: its first `;` at depth 0, or the brace
/// that closes its first `{`. Strings, characters and comments do not count.
fn item_end(code: &str) -> usize {
    let bytes = code.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i += code[i..].find('\n').unwrap_or(code.len() - i);
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // A character literal ('{', '\''), not a lifetime ('a).
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') => {
                i += 2 + code[i + 2..].find('\'').unwrap_or(0);
            }
            b';' if depth == 0 => return i + 1,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    code.len()
}

/// `crate::other` anywhere, or `other::` inside a `use crate::{…}` group.
fn names(code: &str, module: &str) -> bool {
    if code.contains(&format!("crate::{module}")) {
        return true;
    }
    code.split("use crate::{").skip(1).any(|group| {
        let group = group.split("};").next().unwrap_or("");
        group
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .any(|word| word.starts_with(&format!("{module}::")) || word == module)
    })
}

/// Edges the code has that its row of [`ALLOWED`] does not list (or modules with no row).
fn forbidden(deps: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    deps.iter()
        .flat_map(|(m, named)| named.iter().map(move |n| (m, n)))
        .filter(|(m, n)| {
            allowed
                .get(m.as_str())
                .is_none_or(|row| !row.contains(&n.as_str()))
        })
        .map(|(m, n)| format!("{m} -> {n}"))
        .collect()
}

#[test]
fn every_dependency_is_an_allowed_edge() {
    let deps = dependencies();
    assert!(
        deps.contains_key("domain") && deps.contains_key("store"),
        "{deps:?}"
    );
    let bad = forbidden(&deps);
    assert!(
        bad.is_empty(),
        "edges outside the allowed table: {bad:#?}\nall: {deps:#?}"
    );
}

#[test]
fn the_allowed_table_has_no_cycle() {
    let table: BTreeMap<String, BTreeSet<String>> = ALLOWED
        .iter()
        .map(|(m, row)| (m.to_string(), row.iter().map(|n| n.to_string()).collect()))
        .collect();
    for (m, row) in &table {
        for n in row {
            assert!(!reaches(&table, n, m), "{m} -> {n} -> … -> {m}");
        }
    }
}

fn reaches(deps: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(m) = stack.pop() {
        for next in deps.get(&m).into_iter().flatten() {
            if next == to {
                return true;
            }
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    false
}

#[test]
fn the_domain_depends_on_nothing_else_in_the_crate() {
    let deps = dependencies();
    assert_eq!(
        deps["domain"],
        BTreeSet::new(),
        "domain names {:?}",
        deps["domain"]
    );
}

#[test]
fn a_back_edge_is_refused() {
    let mut deps = dependencies();
    deps.get_mut("domain").unwrap().insert("store".into());
    deps.get_mut("store").unwrap().insert("graphql".into());
    // Reading settings must not pull in the subsystems that own them.
    deps.get_mut("config").unwrap().insert("auth".into());
    assert_eq!(
        forbidden(&deps),
        ["config -> auth", "domain -> store", "store -> graphql"]
    );
}

#[test]
fn only_test_items_are_dropped() {
    let code = r#"
use crate::domain::A;
#[cfg(test)]
mod tests {
    fn f() { let c = '}'; let s = "}}"; // }
        use crate::http::X;
    }
}
#[cfg(test)]
use crate::graphql::Y;
fn shipped() { crate::store::connect(); }
"#;
    let kept = without_test_items(code);
    assert!(names(&kept, "domain") && names(&kept, "store"), "{kept}");
    assert!(!names(&kept, "http") && !names(&kept, "graphql"), "{kept}");
}
