//! The rooms of the crate stay in order: no top-level module depends on another that depends
//! back on it (http → graphql → services → domain ← store), and the domain depends on none.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

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
            let text = fs::read_to_string(file).unwrap();
            // Unit tests may reach anywhere; only the code that ships counts.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for other in &tops {
                if other != top && names(code, other) {
                    named.insert(other.clone());
                }
            }
        }
        deps.insert(top.clone(), named);
    }
    deps
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
fn top_level_modules_form_no_cycle() {
    let deps = dependencies();
    assert!(
        deps.contains_key("domain") && deps.contains_key("store"),
        "{deps:?}"
    );
    let cycles: Vec<String> = deps
        .iter()
        .flat_map(|(m, named)| named.iter().map(move |n| (m, n)))
        .filter(|(m, n)| reaches(&deps, n, m))
        .map(|(m, n)| format!("{m} -> {n} -> … -> {m}"))
        .collect();
    assert!(
        cycles.is_empty(),
        "dependency cycles: {cycles:#?}\nall: {deps:#?}"
    );
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
