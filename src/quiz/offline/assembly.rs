//! The public generator: runs the pipeline (sentences, terms, selection,
//! distractors) and turns each picked candidate into a finished question.

use super::distractors;
use super::language::confirmed_korean_stems;
use super::rng::SplitMix64;
use super::selection::{Candidate, find_candidates, select_candidates, topic_keys};
use super::sentences::{Sentence, analyze_sentence, sentence_spans};
use super::terms::TermTable;
use super::{GeneratedChoice, GeneratedQuestion, OfflineError, OfflineRequest};
use crate::{
    domain::{Locale, Message, MessageKey},
    i18n::render,
};

/// Replaces the answer in the question; fixed width so it does not hint at the answer's length.
pub(super) const BLANK: &str = "_____";

/// Generates `question_count` fill-in-the-blank questions from `source_text`.
///
/// Fails with [`OfflineError::NotEnoughMaterial`] (carrying how many questions
/// *are* possible with `choice_count` choices) instead of returning fewer or
/// weaker questions than asked for.
pub fn generate(req: &OfflineRequest<'_>) -> Result<Vec<GeneratedQuestion>, OfflineError> {
    generate_reporting(req, &mut |_| {})
}

/// Like [`generate`]; `on_question` hears how many questions are built so far, after each.
pub fn generate_reporting(
    req: &OfflineRequest<'_>,
    on_question: &mut dyn FnMut(usize),
) -> Result<Vec<GeneratedQuestion>, OfflineError> {
    let (spans, raw_sentences): (Vec<_>, Vec<_>) =
        sentence_spans(req.source_text).into_iter().unzip();
    let korean_stems = confirmed_korean_stems(&raw_sentences);
    let sentences: Vec<Sentence> = raw_sentences
        .into_iter()
        .map(|text| analyze_sentence(text, &korean_stems))
        .collect();
    let terms = TermTable::build(&sentences);
    let candidates = find_candidates(&sentences, &terms);

    // Every candidate can draw its distractors from all other terms, so the
    // only global limit on choices is the number of distinct terms.
    let possible = if terms.list.len() >= req.choice_count {
        candidates.len()
    } else {
        0
    };
    if possible < req.question_count {
        return Err(OfflineError::NotEnoughMaterial {
            possible,
            requested: req.question_count,
        });
    }

    let mut rng = SplitMix64::new(req.seed);
    let topic = topic_keys(req.topic, &korean_stems);
    let picked = select_candidates(&candidates, &terms, req, &topic, sentences.len(), &mut rng);
    Ok(picked
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let question = build_question(
                &sentences[c.sentence],
                spans[c.sentence].clone(),
                c,
                &terms,
                req.choice_count,
                &mut rng,
                req.locale,
            );
            on_question(i + 1);
            question
        })
        .collect())
}

/// The question on `cand`, cut from `sentence`, which comes from `passage` of the study text.
fn build_question(
    sentence: &Sentence,
    passage: std::ops::Range<usize>,
    cand: Candidate,
    terms: &TermTable,
    choice_count: usize,
    rng: &mut SplitMix64,
    locale: Locale,
) -> GeneratedQuestion {
    let answer_term = &terms.list[cand.term];
    let answer = &sentence.text[sentence.tokens[cand.token].range.clone()];

    // Blank every occurrence of the answer's term.
    let mut blanked = String::with_capacity(sentence.text.len());
    let mut last = 0;
    for token in sentence.tokens.iter().filter(|t| t.key == answer_term.key) {
        blanked.push_str(&sentence.text[last..token.range.start]);
        blanked.push_str(BLANK);
        last = token.range.end;
    }
    blanked.push_str(&sentence.text[last..]);

    let wrong = distractors::pick(
        terms,
        cand.term,
        answer,
        sentence,
        choice_count.saturating_sub(1),
        rng,
    );
    let mut choices: Vec<GeneratedChoice> = std::iter::once((answer.to_owned(), true))
        .chain(wrong.into_iter().map(|content| (content, false)))
        .map(|(content, correct)| GeneratedChoice { content, correct })
        .collect();
    rng.shuffle(&mut choices);

    let quoting =
        |key, sentence: &str| render(locale, &Message::new(key).with("sentence", sentence));
    GeneratedQuestion {
        content: quoting(MessageKey::OfflineStem, &blanked),
        choices,
        explanation: Some(quoting(MessageKey::OfflineExplanation, &sentence.text)),
        passage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quiz::offline::fixtures::{APOLLO, KOREAN, assert_valid, correct, request};
    use crate::quiz::offline::{Difficulty, content_seed};

    #[test]
    fn english_sample_is_valid_for_all_choice_counts_and_difficulties() {
        for choices in 2..=6 {
            for difficulty in [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard] {
                for count in [1, 5, 14, 20] {
                    let req = OfflineRequest {
                        difficulty,
                        ..request(APOLLO, count, choices)
                    };
                    let qs = generate(&req).unwrap_or_else(|e| panic!("{e}"));
                    assert_valid(&req, &qs);
                }
            }
        }
    }

    #[test]
    fn korean_sample_is_valid() {
        for choices in 2..=6 {
            for count in [1, 5, 10] {
                let req = request(KOREAN, count, choices);
                let qs = generate(&req).unwrap_or_else(|e| panic!("{e}"));
                assert_valid(&req, &qs);
            }
        }
    }

    #[test]
    fn korean_answers_are_stems_without_particles() {
        let req = request(KOREAN, 10, 4);
        let qs = generate(&req).unwrap();
        for q in &qs {
            let answer = correct(q);
            for particle in ["은", "는", "을", "를", "의", "에서"] {
                assert!(
                    !answer.ends_with(particle),
                    "{answer} keeps particle {particle}"
                );
            }
        }
    }

    #[test]
    fn korean_stem_seen_with_two_particles_makes_a_question() {
        // "서울" counts twice across the two sentences and becomes one term.
        let qs = generate(&request(
            "서울은 대한민국의 수도이다. 한강은 서울을 가로지른다.",
            1,
            2,
        ))
        .unwrap();
        assert!(qs.iter().all(|q| q.content.contains(BLANK)));
    }

    #[test]
    fn korean_blank_keeps_the_particle() {
        let req = request(KOREAN, 10, 3);
        let qs = generate(&req).unwrap();
        let seoul = qs
            .iter()
            .find(|q| correct(q) == "서울")
            .expect("a question about 서울");
        assert!(
            seoul.content.contains("_____은")
                || seoul.content.contains("_____을")
                || seoul.content.contains("_____의"),
            "{}",
            seoul.content
        );
    }

    #[test]
    fn deterministic_for_same_seed_and_varies_with_seed() {
        let req = request(APOLLO, 6, 4);
        assert_eq!(generate(&req).unwrap(), generate(&req).unwrap());
        let korean = request(KOREAN, 6, 4);
        assert_eq!(generate(&korean).unwrap(), generate(&korean).unwrap());

        let first = generate(&req).unwrap();
        let varied = (0..8)
            .map(|seed| {
                generate(&OfflineRequest {
                    seed,
                    ..req.clone()
                })
                .unwrap()
            })
            .any(|qs| qs != first);
        assert!(varied, "seed should change the quiz");
    }

    #[test]
    fn not_enough_material_reports_what_is_possible() {
        // Terms: "capital" (repeated word), "France", "Germany" (names).
        // Candidates: capital+France in the first sentence, capital+Germany in the second.
        let text = "Paris is the capital of France. Berlin is the capital of Germany.";
        let err = generate(&request(text, 5, 3)).unwrap_err();
        assert_eq!(
            err,
            OfflineError::NotEnoughMaterial {
                possible: 4,
                requested: 5
            }
        );
        assert!(err.to_string().contains("at most 4"), "{err}");

        let req = request(text, 4, 3);
        assert_valid(&req, &generate(&req).unwrap());

        // Only three distinct terms: four choices are impossible.
        let err = generate(&request(text, 1, 4)).unwrap_err();
        assert_eq!(
            err,
            OfflineError::NotEnoughMaterial {
                possible: 0,
                requested: 1
            }
        );
        assert!(err.to_string().contains("no usable questions"), "{err}");
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let long_word = "a".repeat(100_000);
        let long_words = "Lorem ipsum dolor sit amet. ".repeat(5_000);
        let inputs = [
            "",
            "   \n\t  \r\n ",
            "🚀🌕✨ 🚀🌕 👩‍🚀👨‍🚀",
            "...!!!???",
            long_word.as_str(),
            "Short.",
            "東京は日本の首都です。大阪は日本の都市です。",
            long_words.as_str(),
        ];
        for text in inputs {
            for choices in [2, 4, 6] {
                match generate(&request(text, 3, choices)) {
                    Ok(qs) => assert_valid(&request(text, 3, choices), &qs),
                    Err(OfflineError::NotEnoughMaterial {
                        possible,
                        requested,
                    }) => {
                        assert_eq!(requested, 3);
                        assert!(possible < 3);
                    }
                }
            }
        }
        assert_eq!(
            generate(&request("", 1, 2)),
            Err(OfflineError::NotEnoughMaterial {
                possible: 0,
                requested: 1
            })
        );
    }

    #[test]
    fn exact_possible_count_can_be_requested() {
        for text in [APOLLO, KOREAN] {
            for choices in [2, 4, 6] {
                let possible = match generate(&request(text, 1000, choices)) {
                    Err(OfflineError::NotEnoughMaterial { possible, .. }) => possible,
                    Ok(_) => panic!("1000 questions should not fit"),
                };
                assert!(possible > 0);
                let req = request(text, possible, choices);
                assert_valid(&req, &generate(&req).unwrap());
            }
        }
    }

    #[test]
    fn korean_quizzes_ask_in_korean() {
        let req = OfflineRequest {
            locale: Locale::Ko,
            ..request(KOREAN, 4, 4)
        };
        let qs = generate(&req).unwrap_or_else(|e| panic!("{e}"));
        for q in &qs {
            assert!(
                q.content
                    .starts_with("빈칸에 들어갈 알맞은 말을 고르세요: \""),
                "{}",
                q.content
            );
            assert!(q.content.contains(BLANK));
            let explanation = q.explanation.as_deref().unwrap();
            assert!(
                explanation.starts_with("본문에는 이렇게 나옵니다: \""),
                "{explanation}"
            );
        }
        assert_eq!(
            crate::quiz::offline::description(Locale::Ko, 4),
            "학습 자료에서 뽑아 만든 빈칸 채우기 문제 4개입니다."
        );
        assert_eq!(
            crate::quiz::offline::description(Locale::En, 5),
            "5 fill-in-the-blank questions built from your study text."
        );
    }

    /// Pins the seed and the quiz for one input, so a change to the hash, the
    /// random generator or the pipeline (which would change users' quizzes) fails here.
    #[test]
    fn fixed_input_gives_pinned_quiz() {
        let topic = "European capitals";
        let text = "Paris is the capital of France. Berlin is the capital of Germany. \
                    Rome is the capital of Italy.";
        let seed = content_seed(topic, text, 2, 3);
        let req = OfflineRequest {
            topic,
            source_text: text,
            question_count: 2,
            choice_count: 3,
            difficulty: Difficulty::Medium,
            seed,
            locale: Default::default(),
        };
        // SHA-256 of the framed input, first 8 bytes little-endian (see `content_seed`).
        assert_eq!(seed, 0xab54_2e7b_7142_5bd4);

        let question =
            |content: &str, choices: [(&str, bool); 3], sentence: &str| GeneratedQuestion {
                content: format!("Fill in the blank: \"{content}\""),
                choices: choices
                    .map(|(content, correct)| GeneratedChoice {
                        content: content.to_owned(),
                        correct,
                    })
                    .into(),
                explanation: Some(format!("The text says: \"{sentence}\"")),
                passage: text
                    .find(sentence)
                    .map(|at| at..at + sentence.len())
                    .unwrap(),
            };
        assert_eq!(
            generate(&req).unwrap(),
            [
                question(
                    "Berlin is the capital of _____.",
                    [("France", false), ("Italy", false), ("Germany", true)],
                    "Berlin is the capital of Germany.",
                ),
                question(
                    "Rome is the _____ of Italy.",
                    [("France", false), ("Germany", false), ("capital", true)],
                    "Rome is the capital of Italy.",
                ),
            ]
        );
    }
}
