//! Typed answers to `SHORT_ANSWER` questions, held against the accepted answers. Both sides are
//! normalised, so case, width, spacing and punctuation never decide; in Korean a particle the
//! learner added ("서울은" for "서울") and spacing ("운영 체제", "운영체제") do not either. An
//! answer that is close but not equal may then be graded by the model.

use super::{checks::StudyText, offline::particle_stems};

/// The longest answer a learner may type.
pub const TEXT_MAX_CHARS: usize = 500;
/// How alike (normalised Levenshtein, 0 to 1) a typed answer must be to an accepted one for
/// the model to be asked about it: a slip of a letter or two, not a different answer.
const CLOSE_SIMILARITY: f64 = 0.6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Right,
    /// Not an accepted answer, but near one: worth the model's judgement.
    Close,
    Wrong,
}

fn is_korean(language: &str) -> bool {
    let language = language.to_ascii_lowercase();
    language == "ko" || language.starts_with("ko-")
}

/// As study text is compared ([`StudyText`]: NFKC, lower case, every run of punctuation or
/// whitespace one space, trimmed); for Korean without any spaces.
pub fn normalize(text: &str, language: &str) -> String {
    let normalized = StudyText::normalized(text);
    if is_korean(language) {
        normalized.replace(' ', "")
    } else {
        normalized
    }
}

/// How `typed` stands against `accepted`, in the quiz's `language`.
pub fn judge(typed: &str, accepted: &[String], language: &str) -> Verdict {
    let typed = normalize(typed, language);
    if typed.is_empty() {
        return Verdict::Wrong;
    }
    let accepted: Vec<String> = accepted
        .iter()
        .map(|a| normalize(a, language))
        .filter(|a| !a.is_empty())
        .collect();
    // Only the learner's side loses a particle, and only to match an accepted answer exactly:
    // "고양이" is never read as "고양" plus 이.
    let particles = is_korean(language)
        .then(|| particle_stems(&typed))
        .into_iter()
        .flatten();
    if std::iter::once(typed.as_str())
        .chain(particles)
        .any(|candidate| accepted.iter().any(|a| a == candidate))
    {
        return Verdict::Right;
    }
    let close = accepted.iter().any(|a| {
        let (shorter, longer) = if a.len() < typed.len() {
            (a.as_str(), typed.as_str())
        } else {
            (typed.as_str(), a.as_str())
        };
        strsim::normalized_levenshtein(&typed, a) >= CLOSE_SIMILARITY
            || (shorter.chars().count() >= 3 && longer.contains(shorter))
    });
    if close {
        Verdict::Close
    } else {
        Verdict::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn case_width_spacing_and_punctuation_do_not_decide() {
        let a = accepted(&["Mitochondria"]);
        assert_eq!(judge("  mitochondria. ", &a, "en"), Verdict::Right);
        assert_eq!(judge("ＭＩＴＯＣＨＯＮＤＲＩＡ", &a, "en"), Verdict::Right);
        let a = accepted(&["New York"]);
        assert_eq!(judge("new   york!", &a, "en"), Verdict::Right);
        assert_eq!(judge("newyork", &a, "en"), Verdict::Close);
    }

    #[test]
    fn a_korean_particle_or_spacing_is_not_a_different_answer() {
        let a = accepted(&["운영체제"]);
        assert_eq!(judge("운영 체제", &a, "ko"), Verdict::Right);
        assert_eq!(judge("운영체제는", &a, "ko"), Verdict::Right);
        let a = accepted(&["서울"]);
        assert_eq!(judge("서울에서", &a, "ko"), Verdict::Right);
        assert_eq!(judge("서울을", &a, "ko"), Verdict::Right);
        // 를 follows a vowel, never 울.
        assert_ne!(judge("서울를", &a, "ko"), Verdict::Right);
        // The accepted side keeps its last syllable: 고양 is not 고양이.
        assert_ne!(judge("고양", &accepted(&["고양이"]), "ko"), Verdict::Right);
        assert_eq!(
            judge("고양이가", &accepted(&["고양이"]), "ko"),
            Verdict::Right
        );
    }

    #[test]
    fn near_misses_are_close_and_others_wrong() {
        let a = accepted(&["photosynthesis"]);
        assert_eq!(judge("photosyntesis", &a, "en"), Verdict::Close);
        assert_eq!(
            judge("the photosynthesis process", &a, "en"),
            Verdict::Close
        );
        assert_eq!(judge("respiration", &a, "en"), Verdict::Wrong);
        assert_eq!(judge("", &a, "en"), Verdict::Wrong);
        assert_eq!(judge("?!", &a, "en"), Verdict::Wrong);
    }

    #[test]
    fn any_accepted_answer_will_do() {
        let a = accepted(&["H2O", "water"]);
        assert_eq!(judge("Water", &a, "en"), Verdict::Right);
        assert_eq!(judge("h2o", &a, "en"), Verdict::Right);
    }
}
