//! What the reply schema cannot say about a quiz or feedback, checked before either is used; a
//! failed check is sent back to the model in the repair round.

use std::collections::HashSet;

use super::{
    QuizSpec,
    reply::{LlmAnswerType, LlmFeedback, LlmQuiz},
};

/// Study text, prepared for checking that a correct answer is stated in it.
///
/// Both sides are compared normalised: Unicode NFKC, case-folded, and every run of punctuation
/// or whitespace read as one space. An answer is stated when its normalised form occurs in the
/// normalised text (a plain substring, so Korean particles or Chinese and Japanese text without
/// spaces still match).
pub struct StudyText(String);

impl StudyText {
    pub fn new(text: &str) -> Self {
        StudyText(normalized(text))
    }

    pub fn states(&self, answer: &str) -> bool {
        let answer = normalized(answer);
        !answer.is_empty() && self.0.contains(&answer)
    }
}

fn normalized(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
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
/// given study text, a multiple-choice answer stated in it (a true/false answer cannot be).
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
}
