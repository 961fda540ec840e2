//! Which questions to ask: every (sentence, term) pair is a candidate, scored
//! by difficulty and picked to spread the quiz over the whole text.

use std::collections::HashSet;

use unicode_segmentation::UnicodeSegmentation;

use super::language::word_stem;
use super::rng::SplitMix64;
use super::sentences::Sentence;
use super::terms::{Term, TermKind, TermTable};
use super::{Difficulty, OfflineRequest};

/// A possible question: blank out every occurrence of `term` in `sentence`
/// (all of them, so a second occurrence does not give the answer away).
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    pub(super) sentence: usize,
    pub(super) term: usize,
    /// Index of the term's first token in the sentence; its spelling is the answer.
    pub(super) token: usize,
}

pub(super) fn find_candidates(sentences: &[Sentence], terms: &TermTable) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (si, sentence) in sentences.iter().enumerate() {
        if !sentence.usable {
            continue;
        }
        let mut seen = Vec::new();
        for (ti, token) in sentence.tokens.iter().enumerate() {
            if let Some(term) = terms.get(&token.key)
                && !seen.contains(&term)
            {
                seen.push(term);
                out.push(Candidate {
                    sentence: si,
                    term,
                    token: ti,
                });
            }
        }
    }
    out
}

/// Keys of the topic's words: terms named in the quiz title are too easy to blank.
pub(super) fn topic_keys(topic: &str, korean_stems: &HashSet<String>) -> HashSet<String> {
    topic
        .unicode_words()
        .map(|w| word_stem(w, korean_stems).0.to_lowercase())
        .collect()
}

/// Higher is preferred. Easy favours names and numbers that recur; Hard
/// favours ordinary words that occur rarely. The jitter lets the seed vary
/// the selection among similar candidates.
fn candidate_score(
    term: &Term,
    difficulty: Difficulty,
    topic: &HashSet<String>,
    jitter: f64,
) -> f64 {
    let (number, proper, word, per_log_count) = match difficulty {
        Difficulty::Easy => (3.0, 3.0, 1.0, 0.5),
        Difficulty::Medium => (2.0, 2.0, 1.5, 0.0),
        Difficulty::Hard => (1.0, 1.5, 3.0, -0.5),
    };
    let base = match term.kind {
        TermKind::Number => number,
        TermKind::ProperNoun => proper,
        TermKind::Word => word,
    };
    let frequency = per_log_count * (term.count as f64).ln();
    let topic_penalty = if topic.contains(&term.key) { 2.0 } else { 0.0 };
    base + frequency - topic_penalty + jitter
}

/// Greedy pick: spread questions over as many sentences as possible, then
/// over as many different answers as possible, then by score. Returned in
/// text order so the quiz follows the study text.
pub(super) fn select_candidates(
    candidates: &[Candidate],
    terms: &TermTable,
    req: &OfflineRequest<'_>,
    topic: &HashSet<String>,
    sentence_count: usize,
    rng: &mut SplitMix64,
) -> Vec<Candidate> {
    let scores: Vec<f64> = candidates
        .iter()
        .map(|c| candidate_score(&terms.list[c.term], req.difficulty, topic, rng.unit()))
        .collect();
    let mut taken = vec![false; candidates.len()];
    let mut sentence_uses = vec![0usize; sentence_count];
    let mut term_uses = vec![0usize; terms.list.len()];
    let mut picked = Vec::with_capacity(req.question_count);
    for _ in 0..req.question_count {
        let best = (0..candidates.len())
            .filter(|&i| !taken[i])
            .min_by(|&a, &b| {
                let (ca, cb) = (candidates[a], candidates[b]);
                sentence_uses[ca.sentence]
                    .cmp(&sentence_uses[cb.sentence])
                    .then(term_uses[ca.term].cmp(&term_uses[cb.term]))
                    .then(scores[b].total_cmp(&scores[a]))
                    .then(a.cmp(&b))
            });
        let Some(i) = best else { break };
        taken[i] = true;
        sentence_uses[candidates[i].sentence] += 1;
        term_uses[candidates[i].term] += 1;
        picked.push(candidates[i]);
    }
    picked.sort_by_key(|c| (c.sentence, c.token));
    picked
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crate::quiz::offline::fixtures::{APOLLO, KOREAN, correct, request};
    use crate::quiz::offline::{Difficulty, OfflineRequest, generate};

    #[test]
    fn questions_prefer_different_sentences() {
        let req = request(APOLLO, 14, 4);
        let qs = generate(&req).unwrap();
        let explanations: HashSet<_> = qs.iter().map(|q| q.explanation.clone()).collect();
        assert_eq!(explanations.len(), 14);

        // One question per sentence (10 sentences, 10 questions).
        let qs = generate(&request(KOREAN, 10, 4)).unwrap();
        let explanations: HashSet<_> = qs.iter().map(|q| q.explanation.clone()).collect();
        assert_eq!(explanations.len(), 10);
    }

    #[test]
    fn easy_prefers_names_and_numbers_hard_prefers_words() {
        let named = |d: Difficulty| {
            (0..5)
                .flat_map(|seed| {
                    generate(&OfflineRequest {
                        difficulty: d,
                        seed,
                        ..request(APOLLO, 10, 4)
                    })
                    .unwrap()
                })
                .filter(|q| {
                    let a = correct(q);
                    a.starts_with(|c: char| c.is_uppercase() || c.is_numeric())
                })
                .count()
        };
        assert!(named(Difficulty::Easy) > named(Difficulty::Hard));
    }

    #[test]
    fn topic_terms_are_avoided_when_possible() {
        let qs = generate(&OfflineRequest {
            topic: "Armstrong",
            ..request(APOLLO, 5, 4)
        })
        .unwrap();
        assert!(qs.iter().all(|q| correct(q) != "Armstrong"));
    }
}
