//! The prompts that ask the model for a quiz, and how they name its language.

use crate::{
    domain::{AnswerType, Difficulty},
    llm::Message,
};

use super::QuizSpec;

/// A quiz language as a prompt names it: the English name with the code, e.g. `Korean (ko)` or
/// `Portuguese (pt-BR)`. A small model follows a name far better than a bare code; a code that
/// ISO 639 does not know is given as a code.
pub(super) fn language_name(code: &str) -> String {
    let primary = code.split('-').next().unwrap_or(code).to_ascii_lowercase();
    let language = match primary.len() {
        2 => isolang::Language::from_639_1(&primary),
        3 => isolang::Language::from_639_3(&primary),
        _ => None,
    };
    match language {
        Some(language) => format!("{} ({code})", language.to_name()),
        None => format!("the language with code \"{code}\""),
    }
}

pub(super) fn quiz_messages(spec: &QuizSpec) -> Vec<Message> {
    let difficulty = match spec.difficulty {
        Difficulty::Easy => "easy",
        Difficulty::Medium => "medium",
        Difficulty::Hard => "hard",
    };
    let mut prompt = format!(
        "Write a quiz.\n\
         Topic: {topic}\n\
         Difficulty: {difficulty}\n\
         Language: write the title, description, questions, choices and explanations in \
         {language}, whatever the language of the topic or study text.\n\
         Number of questions: exactly {questions}\n\
         Rules:\n\
         - answer_type \"multiple_choice\": exactly {choices} choices; \"true_false\": exactly 2 \
           choices (true and false, in the quiz language).\n\
         - Exactly one choice per question has is_correct = true.\n\
         - Choices are non-empty and all different; questions are all different.\n\
         - explanation says why the correct choice is right.\n",
        topic = spec.topic,
        language = language_name(&spec.language),
        questions = spec.question_count,
        choices = spec.choice_count,
    );
    match spec.answer_type {
        Some(AnswerType::MultipleChoice) => {
            prompt.push_str("- Every answer_type is \"multiple_choice\".\n");
        }
        Some(AnswerType::TrueFalse) => {
            prompt.push_str("- Every answer_type is \"true_false\".\n");
        }
        Some(AnswerType::ShortAnswer) => prompt.push_str(
            "- Every answer_type is \"multiple_choice\", and the student will type the answer \
             without seeing the choices: ask questions a word or a short phrase answers, never \
             \"which of the following\", and make the correct choice that word or phrase.\n",
        ),
        None => {}
    }
    if let Some(text) = &spec.source_text {
        prompt.push_str(
            "- Base every question on the study text below; the correct choice of every \
             multiple_choice question must appear in it word for word.\n\
             - quote is the sentence of the study text the question is built from, copied \
             word for word.\n\nStudy text:\n<<<\n",
        );
        prompt.push_str(text);
        prompt.push_str("\n>>>\n");
    } else {
        prompt.push_str("- quote is an empty string.\n");
    }
    vec![
        Message::system(format!(
            "You write accurate quizzes for learners, in {}. Reply only with JSON that \
                 follows the schema.",
            language_name(&spec.language)
        )),
        Message::user(prompt),
    ]
}

#[cfg(test)]
mod tests {
    use super::language_name;

    #[test]
    fn languages_are_named_with_their_code() {
        assert_eq!(language_name("ko"), "Korean (ko)");
        assert_eq!(language_name("en"), "English (en)");
        assert_eq!(language_name("pt-BR"), "Portuguese (pt-BR)");
        assert_eq!(language_name("qqq-x"), "the language with code \"qqq-x\"");
    }
}
