//! The prompt that asks the model for a quiz.

use crate::{domain::Difficulty, llm::Message};

use super::QuizSpec;

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
         Language of everything you write: {language}\n\
         Number of questions: exactly {questions}\n\
         Rules:\n\
         - answer_type \"multiple_choice\": exactly {choices} choices; \"true_false\": exactly 2 \
           choices (true and false, in the quiz language).\n\
         - Exactly one choice per question has is_correct = true.\n\
         - Choices are non-empty and all different; questions are all different.\n\
         - explanation says why the correct choice is right.\n",
        topic = spec.topic,
        language = spec.language,
        questions = spec.question_count,
        choices = spec.choice_count,
    );
    if let Some(text) = &spec.source_text {
        prompt.push_str(
            "- Base every question on the study text below; the correct choice of every \
             multiple_choice question must appear in it word for word.\n\nStudy text:\n<<<\n",
        );
        prompt.push_str(text);
        prompt.push_str("\n>>>\n");
    }
    vec![
        Message::system(
            "You write accurate quizzes for learners. Reply only with JSON that follows the \
             schema.",
        ),
        Message::user(prompt),
    ]
}
