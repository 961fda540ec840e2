//! What the reply schema cannot say about a quiz or feedback, checked before either is used; a
//! failed check is sent back to the model in the repair round.

use std::{collections::HashSet, ops::Range};

use crate::domain::AnswerType;

use super::{
    QuizSpec,
    reply::{LlmAnswerType, LlmFeedback, LlmQuiz},
};

/// Study text, prepared for checking that a correct answer or a quote is stated in it.
///
/// Both sides are compared normalised: Unicode NFKC, case-folded, and every run of punctuation
/// or whitespace read as one space. A phrase is stated when its normalised form occurs in the
/// normalised text (a plain substring, so Korean particles or Chinese and Japanese text without
/// spaces still match). Each grapheme cluster is normalised on its own (compositions happen
/// within one), so every normalised character knows the characters of the text it came from.
pub struct StudyText {
    normalized: String,
    /// For each character of `normalized` but the gap spaces: its byte offset there, and the
    /// range of characters of the text it came from.
    origins: Vec<(usize, Range<usize>)>,
}

impl StudyText {
    pub fn new(text: &str) -> Self {
        use unicode_normalization::UnicodeNormalization;
        use unicode_segmentation::UnicodeSegmentation;
        let mut study = StudyText {
            normalized: String::with_capacity(text.len()),
            origins: Vec::new(),
        };
        let mut gap = false;
        let mut at = 0;
        for grapheme in text.graphemes(true) {
            let chars = at..at + grapheme.chars().count();
            at = chars.end;
            for c in grapheme.nfkc().flat_map(char::to_lowercase) {
                if !c.is_alphanumeric() {
                    gap = true;
                    continue;
                }
                if gap && !study.normalized.is_empty() {
                    study.normalized.push(' ');
                }
                gap = false;
                study.origins.push((study.normalized.len(), chars.clone()));
                study.normalized.push(c);
            }
        }
        study
    }

    /// `text` as it is compared: the normalised form alone.
    pub fn normalized(text: &str) -> String {
        StudyText::new(text).normalized
    }

    pub fn states(&self, phrase: &str) -> bool {
        self.find(phrase).is_some()
    }

    /// The characters of the text where `phrase` is first stated.
    pub fn find(&self, phrase: &str) -> Option<Range<usize>> {
        let phrase = StudyText::new(phrase).normalized;
        if phrase.is_empty() {
            return None;
        }
        let start = self.normalized.find(&phrase)?;
        let end = start + phrase.len();
        // The phrase starts and ends on a normalised character, never on a gap space.
        let first = self.origins.partition_point(|(at, _)| *at < start);
        let last = self.origins.partition_point(|(at, _)| *at < end) - 1;
        Some(self.origins[first].1.start..self.origins[last].1.end)
    }
}

pub(super) fn check_feedback(f: &LlmFeedback, wrong: &HashSet<u32>) -> Result<(), String> {
    if f.summary.trim().is_empty() {
        return Err("the summary is empty".into());
    }
    let mut seen = HashSet::new();
    for item in &f.items {
        let n = u32::try_from(item.question_number).unwrap_or(0);
        if !wrong.contains(&n) {
            return Err(format!(
                "item for question {} but only wrongly answered questions get items",
                item.question_number
            ));
        }
        if !seen.insert(n) || item.feedback.trim().is_empty() {
            return Err(format!("question {n} has a duplicate or empty item"));
        }
    }
    Ok(())
}

/// What the schema cannot say: the counts, one correct choice, no blanks or duplicates, and,
/// given study text, a quote found in it and a multiple-choice answer stated in it (a
/// true/false answer cannot be).
pub(super) fn check_quiz(
    quiz: &LlmQuiz,
    spec: &QuizSpec,
    study: Option<&StudyText>,
) -> Result<(), String> {
    if quiz.questions.len() != spec.question_count {
        return Err(format!(
            "expected exactly {} questions, got {}",
            spec.question_count,
            quiz.questions.len()
        ));
    }
    let mut contents = HashSet::new();
    for (i, q) in quiz.questions.iter().enumerate() {
        let n = i + 1;
        if q.content.trim().is_empty() {
            return Err(format!("question {n} is empty"));
        }
        if !contents.insert(q.content.trim().to_lowercase()) {
            return Err(format!("question {n} repeats an earlier question"));
        }
        let wanted = match spec.answer_type {
            Some(AnswerType::TrueFalse) => Some(LlmAnswerType::TrueFalse),
            Some(AnswerType::MultipleChoice | AnswerType::ShortAnswer) => {
                Some(LlmAnswerType::MultipleChoice)
            }
            None => None,
        };
        if let Some(wanted) = wanted.filter(|w| *w != q.answer_type) {
            let name = match wanted {
                LlmAnswerType::MultipleChoice => "multiple_choice",
                LlmAnswerType::TrueFalse => "true_false",
            };
            return Err(format!("question {n} must have answer_type \"{name}\""));
        }
        let expected = match q.answer_type {
            LlmAnswerType::MultipleChoice => spec.choice_count,
            LlmAnswerType::TrueFalse => 2,
        };
        if q.choices.len() != expected {
            return Err(format!(
                "question {n} has {} choices; it needs exactly {expected}",
                q.choices.len()
            ));
        }
        let correct = q.choices.iter().filter(|c| c.is_correct).count();
        if correct != 1 {
            return Err(format!(
                "question {n} has {correct} correct choices; it needs exactly one"
            ));
        }
        let mut seen = HashSet::new();
        for c in &q.choices {
            let key = c.content.trim().to_lowercase();
            if key.is_empty() {
                return Err(format!("question {n} has an empty choice"));
            }
            if !seen.insert(key) {
                return Err(format!("question {n} has duplicate choices"));
            }
        }
        if let Some(study) = study
            && !study.states(&q.quote)
        {
            return Err(format!(
                "the quote of question {n}, {:?}, is not in the study text; quote the sentence \
                 the question is built from word for word",
                q.quote
            ));
        }
        if let (Some(study), LlmAnswerType::MultipleChoice) = (study, q.answer_type)
            && let Some(answer) = q.choices.iter().find(|c| c.is_correct)
            && !study.states(&answer.content)
        {
            return Err(format!(
                "the correct answer of question {n}, {:?}, is not stated in the study text; \
                 each correct answer must appear in it word for word",
                answer.content
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_found_in_normalised_text() {
        let text = StudyText::new(
            "The crew: Neil A. Armstrong, Buzz Aldrin —\n and Michael Collins (July 16, 1969). \
             아폴로 11호는 달에 착륙했다. ＡＰＯＬＬＯ",
        );
        for stated in [
            "Neil A Armstrong",
            "neil a. armstrong",
            "  ALDRIN ",
            "Buzz Aldrin and Michael Collins",
            "July 16 1969",
            "16, 1969",
            "아폴로 11호",
            "달",
            "apollo",
        ] {
            assert!(text.states(stated), "{stated:?}");
        }
        for absent in ["Yuri Gagarin", "July 20, 1969", "Neil Armstrong", "...", ""] {
            assert!(!text.states(absent), "{absent:?}");
        }
    }

    #[test]
    fn a_quote_is_found_at_the_characters_it_came_from() {
        let raw =
            "  Ｔｈｅ crew:\n Neil A. Armstrong — 아폴로 11호는 ﬁne. Cafe\u{301} e\u{301}tait";
        let text = StudyText::new(raw);
        let chars: Vec<char> = raw.chars().collect();
        let at = |r: Range<usize>| chars[r].iter().collect::<String>();
        for (quote, expected) in [
            ("the crew neil", "Ｔｈｅ crew:\n Neil"),
            ("A. Armstrong, 아폴로", "A. Armstrong — 아폴로"),
            ("11호는 fine", "11호는 ﬁne"),
            ("FI", "ﬁ"),
            ("café", "Cafe\u{301}"),
            ("\u{e9}tait", "e\u{301}tait"),
        ] {
            assert_eq!(
                text.find(quote).map(at).as_deref(),
                Some(expected),
                "{quote:?}"
            );
        }
        assert_eq!(text.find("Aldrin"), None);
    }
}
