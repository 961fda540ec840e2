//! The documentation holds together: every relative link in README.md and docs/ reaches a file
//! and, with a `#fragment`, a heading there; and the configuration reference is exactly what the
//! settings' definitions produce.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use quiz_llm::{Settings, config::reference};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn configuration_reference_matches_the_settings() {
    let on_disk =
        std::fs::read_to_string(Path::new(ROOT).join(reference::PAGE)).unwrap_or_default();
    assert!(
        on_disk == reference::markdown(&Settings::command()),
        "{} is out of date; regenerate it with\n    {}",
        reference::PAGE,
        reference::REGENERATE
    );
}

#[test]
fn every_setting_has_a_variable_and_a_meaning() {
    assert_eq!(
        reference::undocumented(&Settings::command()),
        Vec::<String>::new(),
        "settings without an environment variable or a doc comment"
    );
}

#[test]
fn print_config_command_prints_the_reference() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quiz-llm"))
        .args(["print-config", "--markdown"])
        .output()
        .expect("run quiz-llm print-config --markdown");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        reference::markdown(&Settings::command())
    );
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    pages.extend(markdown_files(&Path::new(ROOT).join("docs")));
    assert!(
        pages.len() > 5,
        "the docs are where they should be: {pages:?}"
    );
    let dead = dead_links(&pages);
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
}

#[test]
fn the_link_check_finds_a_missing_file_and_a_missing_heading() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("a.md");
    std::fs::write(
        &page,
        "# A\n\n## Two words, `code`\n\n[ok](#two-words-code) [ok](b.md#b) [gone](c.md) [gone](b.md#nope) [gone](#a-1)\n\n```sh\n[not a link](nowhere.md)\n```\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.md"), "# B\n").unwrap();
    let dead = dead_links(&[page]);
    assert_eq!(dead.len(), 3, "{dead:#?}");
    for target in ["c.md", "b.md#nope", "#a-1"] {
        assert!(
            dead.iter().any(|d| d.ends_with(&format!(" {target}"))),
            "{target} in {dead:#?}"
        );
    }
}

fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .flat_map(|p| {
            if p.is_dir() {
                markdown_files(&p)
            } else {
                vec![p]
            }
        })
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

/// `page: target` for each relative link that reaches no file, or no heading in its target.
fn dead_links(pages: &[PathBuf]) -> Vec<String> {
    let mut anchors: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut dead = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(page).unwrap();
        for target in links(&text) {
            // Absolute URLs (https:, mailto:) are the web's business.
            if target.split_once(':').is_some_and(|(scheme, _)| {
                !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic())
            }) {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            let reaches = file.exists()
                && (fragment.is_empty()
                    || file.extension().is_none_or(|e| e != "md")
                    || anchors
                        .entry(file.clone())
                        .or_insert_with(|| {
                            headings(&std::fs::read_to_string(&file).unwrap_or_default())
                        })
                        .iter()
                        .any(|a| a == fragment));
            if !reaches {
                let name = page.strip_prefix(ROOT).unwrap_or(page);
                dead.push(format!("{}: {target}", name.display()));
            }
        }
    }
    dead
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// The destinations of a page's links and images (code blocks and spans hold none).
fn links(markdown: &str) -> Vec<String> {
    Parser::new_ext(markdown, options())
        .filter_map(|event| match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                Some(dest_url.into_string())
            }
            _ => None,
        })
        .collect()
}

/// The anchors a forge makes for a page's headings: the heading's text in lower case, spaces
/// as `-`, punctuation other than `-` and `_` dropped, and `-1`, `-2`, … on repeats.
fn headings(markdown: &str) -> Vec<String> {
    let mut anchors: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => current = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(text) = &mut current {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let text = current.take().unwrap_or_default();
                let slug: String = text
                    .trim()
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                    .map(|c| if c == ' ' { '-' } else { c })
                    .collect();
                let repeats = anchors
                    .iter()
                    .filter(|a| {
                        **a == slug
                            || a.strip_prefix(&slug)
                                .and_then(|rest| rest.strip_prefix('-'))
                                .is_some_and(|n| n.parse::<u32>().is_ok())
                    })
                    .count();
                anchors.push(if repeats == 0 {
                    slug
                } else {
                    format!("{slug}-{repeats}")
                });
            }
            _ => {}
        }
    }
    anchors
}
