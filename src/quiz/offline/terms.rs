//! Key terms: which words of the text are worth blanking out (numbers, names,
//! repeated or long content words), and of which kind, judged from counts over
//! the whole text.

use std::collections::HashMap;

use super::language::{is_dense_char, is_stop_word};
use super::sentences::Sentence;

/// Longer "words" are junk (URLs, hashes, keyboard mashing), not study terms.
const MAX_TERM_CHARS: usize = 40;
/// A non-repeated word this long is still likely to be a meaningful content word.
const LONG_WORD_CHARS: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TermKind {
    Number,
    ProperNoun,
    Word,
}

#[derive(Debug)]
pub(super) struct Term {
    pub(super) key: String,
    /// Spelling used when the term is a distractor (its usual mid-sentence form).
    pub(super) display: String,
    pub(super) kind: TermKind,
    /// Occurrences in the whole text.
    pub(super) count: usize,
}

/// Per-key counts gathered over the whole text before deciding what is a term.
#[derive(Default)]
struct TermStats {
    key: String,
    is_number: bool,
    count: usize,
    cap_initial: usize,
    cap_inner: usize,
    lower: usize,
    noun_hint: bool,
    /// (spelling, mid-sentence count, total count), in order of first appearance.
    spellings: Vec<(String, usize, usize)>,
}

pub(super) struct TermTable {
    /// In order of first appearance, so iteration is deterministic.
    pub(super) list: Vec<Term>,
    index: HashMap<String, usize>,
}

impl TermTable {
    pub(super) fn build(sentences: &[Sentence]) -> Self {
        let mut stats: Vec<TermStats> = Vec::new();
        let mut by_key: HashMap<&str, usize> = HashMap::new();
        for sentence in sentences {
            for token in &sentence.tokens {
                let i = *by_key.entry(token.key.as_str()).or_insert_with(|| {
                    stats.push(TermStats {
                        key: token.key.clone(),
                        ..TermStats::default()
                    });
                    stats.len() - 1
                });
                let s = &mut stats[i];
                s.count += 1;
                s.is_number |= token.is_number;
                s.noun_hint |= token.noun_hint;
                match (token.capitalized, token.initial) {
                    (true, true) => s.cap_initial += 1,
                    (true, false) => s.cap_inner += 1,
                    _ => s.lower += usize::from(token.lowercase),
                }
                let spelling = &sentence.text[token.range.clone()];
                let inner = usize::from(!token.initial);
                match s.spellings.iter_mut().find(|(sp, _, _)| sp == spelling) {
                    Some(entry) => {
                        entry.1 += inner;
                        entry.2 += 1;
                    }
                    None => s.spellings.push((spelling.to_owned(), inner, 1)),
                }
            }
        }

        let mut list = Vec::new();
        let mut index = HashMap::new();
        for s in stats {
            let Some(kind) = classify(&s) else {
                continue;
            };
            // Prefer the spelling seen mid-sentence most often, then the earliest.
            let display = s
                .spellings
                .iter()
                .enumerate()
                .max_by_key(|&(pos, &(_, inner, total))| (inner, total, std::cmp::Reverse(pos)))
                .map(|(_, (sp, _, _))| sp.clone())
                .unwrap_or_else(|| s.key.clone());
            index.insert(s.key.clone(), list.len());
            list.push(Term {
                key: s.key,
                display,
                kind,
                count: s.count,
            });
        }
        TermTable { list, index }
    }

    pub(super) fn get(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }
}

/// Decides whether a key is a quiz term and of which kind; `None` for
/// stop words, junk and unremarkable one-off words.
fn classify(s: &TermStats) -> Option<TermKind> {
    let chars = s.key.chars().count();
    if chars > MAX_TERM_CHARS {
        return None;
    }
    if s.is_number {
        return Some(TermKind::Number);
    }
    if is_stop_word(&s.key) {
        return None;
    }
    // Capitalised mid-sentence (at least as often as lowercase), or
    // capitalised at the start of several sentences and never lowercase.
    let proper = chars >= 2
        && s.cap_inner >= s.lower
        && (s.cap_inner >= 1 || (s.cap_initial >= 2 && s.lower == 0));
    if proper {
        return Some(TermKind::ProperNoun);
    }
    let dense = s.key.chars().any(is_dense_char);
    if chars < if dense { 2 } else { 3 } {
        return None;
    }
    let long = !dense && chars >= LONG_WORD_CHARS;
    (s.count >= 2 || s.noun_hint || long).then_some(TermKind::Word)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::quiz::offline::fixtures::APOLLO;
    use crate::quiz::offline::sentences::{analyze_sentence, split_sentences};

    #[test]
    fn terms_are_classified() {
        let raw = split_sentences(APOLLO);
        let sentences: Vec<Sentence> = raw
            .into_iter()
            .map(|t| analyze_sentence(t, &HashSet::new()))
            .collect();
        let terms = TermTable::build(&sentences);
        let kind = |key: &str| terms.get(key).map(|i| terms.list[i].kind);
        assert_eq!(kind("1969"), Some(TermKind::Number));
        assert_eq!(kind("21.5"), Some(TermKind::Number));
        assert_eq!(kind("armstrong"), Some(TermKind::ProperNoun));
        assert_eq!(kind("collins"), Some(TermKind::ProperNoun));
        assert_eq!(kind("nasa"), Some(TermKind::ProperNoun));
        assert_eq!(kind("lunar"), Some(TermKind::Word));
        assert_eq!(kind("the"), None);
        assert_eq!(kind("about"), None);
        // Sentence-initial only, once: not enough evidence for a name.
        assert_eq!(kind("apollo"), None);
        assert_eq!(
            terms.list[terms.get("armstrong").unwrap()].display,
            "Armstrong"
        );
    }
}
