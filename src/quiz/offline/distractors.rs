//! Wrong choices: other key terms of the same text that look like the answer
//! (same kind, same shape, same initial case), so the right one does not stand
//! out by form.

use std::collections::HashSet;

use super::language::is_hangul_syllable;
use super::rng::SplitMix64;
use super::sentences::Sentence;
use super::terms::{TermKind, TermTable};

/// Up to `count` distractors for `answer` (the spelling of term `answer_term`
/// in `sentence`), best first, none equal to the answer or to each other
/// ignoring case.
///
/// Preference: same kind, not already visible in the sentence, same shape,
/// then seeded chance. Draws one number from `rng` per other term.
pub(super) fn pick(
    terms: &TermTable,
    answer_term: usize,
    answer: &str,
    sentence: &Sentence,
    count: usize,
    rng: &mut SplitMix64,
) -> Vec<String> {
    let answer_kind = terms.list[answer_term].kind;
    let in_sentence: HashSet<&str> = sentence.tokens.iter().map(|t| t.key.as_str()).collect();
    let answer_shape = shape(answer);
    let mut pool: Vec<((bool, bool, bool), f64, usize)> = terms
        .list
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != answer_term)
        .map(|(i, t)| {
            let rank = (
                t.kind != answer_kind,
                in_sentence.contains(t.key.as_str()),
                shape(&t.display) != answer_shape,
            );
            (rank, rng.unit(), i)
        })
        .collect();
    pool.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));

    let mut seen: HashSet<String> = HashSet::from([answer.to_lowercase()]);
    let mut picked = Vec::with_capacity(count);
    for &(_, _, i) in &pool {
        if picked.len() >= count {
            break;
        }
        let term = &terms.list[i];
        let content = if term.kind == TermKind::Word {
            match_case(&term.display, answer)
        } else {
            term.display.clone()
        };
        if seen.insert(content.to_lowercase()) {
            picked.push(content);
        }
    }
    picked
}

/// Coarse form of a term, so distractors look like the answer: a year for a
/// year, a Korean stem that takes the same particle form (은 vs 는), an
/// English word with the same ending.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Number(String),
    Hangul { final_consonant: bool },
    Suffix(&'static str),
    Other,
}

fn shape(term: &str) -> Shape {
    if term.starts_with(|c: char| c.is_numeric()) {
        return Shape::Number(
            term.chars()
                .map(|c| if c.is_numeric() { '9' } else { c })
                .collect(),
        );
    }
    if let Some(last) = term.chars().last().filter(|&c| is_hangul_syllable(c)) {
        return Shape::Hangul {
            final_consonant: (u32::from(last) - 0xAC00) % 28 != 0,
        };
    }
    let lower = term.to_lowercase();
    let suffix = ["ing", "ed", "ly", "s"]
        .into_iter()
        .find(|s| lower.ends_with(s) && lower.chars().count() >= 4);
    if let Some(suffix) = suffix {
        return Shape::Suffix(suffix);
    }
    Shape::Other
}

/// Gives an ordinary word distractor the answer's initial case, so a
/// capitalised sentence-initial answer does not stand out (and vice versa).
/// Keeps the original when the case change would not round-trip.
fn match_case(word: &str, answer: &str) -> String {
    let (Some(first), Some(answer_first)) = (word.chars().next(), answer.chars().next()) else {
        return word.to_owned();
    };
    let rest = &word[first.len_utf8()..];
    let changed: String = if answer_first.is_uppercase() {
        first.to_uppercase().chain(rest.chars()).collect()
    } else if answer_first.is_lowercase() {
        first.to_lowercase().chain(rest.chars()).collect()
    } else {
        return word.to_owned();
    };
    if changed.to_lowercase() == word.to_lowercase() {
        changed
    } else {
        word.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quiz::offline::fixtures::{APOLLO, correct, request};
    use crate::quiz::offline::sentences::number_prefix_len;
    use crate::quiz::offline::{OfflineRequest, generate};

    #[test]
    fn shapes_group_like_terms() {
        assert_eq!(shape("1969"), shape("1770"));
        assert_ne!(shape("1969"), shape("21.5"));
        assert_eq!(shape("서울"), shape("부산"));
        assert_ne!(shape("서울"), shape("제주도"));
        assert_eq!(shape("landing"), Shape::Suffix("ing"));
        assert_eq!(shape("Moon"), Shape::Other);
    }

    #[test]
    fn word_distractors_take_the_answers_case() {
        assert_eq!(match_case("lunar", "Armstrong"), "Lunar");
        assert_eq!(match_case("Lunar", "orbit"), "lunar");
        assert_eq!(match_case("lunar", "1969"), "lunar");
        assert_eq!(match_case("", "Moon"), "");
    }

    #[test]
    fn number_answers_get_number_distractors() {
        let req = request(APOLLO, 20, 4);
        let mut numeric = 0;
        for seed in 0..10 {
            for q in generate(&OfflineRequest {
                seed,
                ..req.clone()
            })
            .unwrap()
            {
                if number_prefix_len(correct(&q)).is_some() {
                    numeric += 1;
                    for c in &q.choices {
                        assert!(number_prefix_len(&c.content).is_some(), "{q:?}");
                    }
                }
            }
        }
        assert!(numeric > 0);
    }
}
