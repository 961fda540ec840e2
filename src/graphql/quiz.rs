//! Quizzes, answers, results and feedback. All behind the login guard and scoped to the caller.

use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, Object, OutputType, Result, SimpleObject,
    connection::{
        Connection, DefaultConnectionName, DefaultEdgeName, DisableNodesField, Edge, EmptyFields,
    },
};
use chrono::{DateTime, Utc};
use std::sync::Arc;

use super::{context::ContextExt, guard::LoggedIn, limits::page_cost, questions::Questions};
use crate::{
    domain::{
        AnswerRecord, AppError, ChoiceRecord, MessageKey, QuestionRecord, QuizRecord,
        QuizResultRecord, SourcePassageRecord,
    },
    quiz::{
        GenerateInput, SOURCE_TEXT_MAX_CHARS,
        grading::Answer,
        page::{Page, PageRequest, encode_cursor},
    },
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::Difficulty")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::AnswerType")]
pub enum AnswerType {
    MultipleChoice,
    TrueFalse,
    /// Answered by typing (`AnswerInput.text`); the question has no choices.
    ShortAnswer,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::QuizSource")]
pub enum QuizSource {
    Llm,
    Offline,
}

#[derive(InputObject)]
pub struct GenerateQuizInput {
    /// 1 to 200 characters.
    topic: String,
    /// Study material to build the quiz from (up to 100,000 characters). Without an LLM
    /// configured, it or `materialId` is required.
    source_text: Option<String>,
    /// One of your uploaded study materials to build the quiz from (its first 100,000
    /// characters), instead of `sourceText`.
    material_id: Option<ID>,
    /// 1 to 20.
    #[graphql(default = 5)]
    question_count: i32,
    /// 2 to 6 (true/false questions always have 2).
    #[graphql(default = 4)]
    choice_count: i32,
    #[graphql(default_with = "Difficulty::Medium")]
    difficulty: Difficulty,
    /// A language code such as en or ko.
    #[graphql(default = "en")]
    language: String,
    /// Every question of this kind; null lets the generator mix multiple-choice and
    /// true/false questions. SHORT_ANSWER questions are answered by typing.
    answer_type: Option<AnswerType>,
}

impl GenerateQuizInput {
    /// The service's input, with `materialId` resolved to the material's text (`NOT_FOUND` when
    /// it is not the caller's).
    pub(super) async fn resolve(self, ctx: &Context<'_>) -> Result<GenerateInput> {
        let (source_text, page_starts) = match (self.source_text, self.material_id) {
            (Some(_), Some(_)) => {
                return Err(AppError::bad_input("materialId", MessageKey::TextOrMaterial).into());
            }
            (None, Some(id)) => {
                let owner = &ctx.claims()?.sub;
                let material = ctx.material_service().material(owner, &id).await?;
                let text = material.text.chars().take(SOURCE_TEXT_MAX_CHARS).collect();
                (Some(text), material.page_starts)
            }
            (text, None) => (text, Vec::new()),
        };
        Ok(GenerateInput {
            topic: self.topic,
            source_text,
            question_count: self.question_count,
            choice_count: self.choice_count,
            difficulty: self.difficulty.into(),
            language: self.language,
            answer_type: self.answer_type.map(Into::into),
            page_starts,
        })
    }
}

/// One answer: `choiceNumber` for a choice question, `text` (1 to 500 characters) for a
/// SHORT_ANSWER one.
#[derive(InputObject)]
pub struct AnswerInput {
    question_number: i32,
    choice_number: Option<i32>,
    text: Option<String>,
}

pub struct Choice<'a>(pub(super) &'a ChoiceRecord);

/// A choice as shown before submission: it never says whether it is correct.
#[Object]
impl Choice<'_> {
    async fn number(&self) -> i32 {
        int(self.0.number)
    }

    async fn content(&self) -> &str {
        &self.0.content
    }
}

pub struct Question<'a>(pub(super) &'a QuestionRecord);

#[Object]
impl Question<'_> {
    async fn number(&self) -> i32 {
        int(self.0.number)
    }

    async fn content(&self) -> &str {
        &self.0.content
    }

    async fn answer_type(&self) -> AnswerType {
        self.0.answer_type.into()
    }

    async fn choices(&self) -> Vec<Choice<'_>> {
        self.0.choices.iter().map(Choice).collect()
    }
}

pub(super) fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A quiz as its owner sees it before answering, read straight from the record (which a page
/// shares with the cache that kept it).
pub struct Quiz(Arc<QuizRecord>);

impl From<Arc<QuizRecord>> for Quiz {
    fn from(q: Arc<QuizRecord>) -> Self {
        Quiz(q)
    }
}

impl From<QuizRecord> for Quiz {
    fn from(q: QuizRecord) -> Self {
        Quiz(Arc::new(q))
    }
}

#[Object]
impl Quiz {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn topic(&self) -> &str {
        &self.0.topic
    }

    async fn difficulty(&self) -> Difficulty {
        self.0.difficulty.into()
    }

    async fn source(&self) -> QuizSource {
        self.0.source.into()
    }

    /// The language the questions are written in.
    async fn language(&self) -> &str {
        &self.0.language
    }

    async fn question_count(&self) -> i32 {
        i32::try_from(self.0.questions.len()).unwrap_or(i32::MAX)
    }

    async fn questions(&self) -> Questions<'_> {
        Questions(&self.0.questions)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct AnswerResult {
    question_number: i32,
    question: String,
    /// Null for a typed answer and for a question left unanswered.
    selected_choice: Option<i32>,
    /// The chosen choice's text, or the answer as typed.
    selected_content: Option<String>,
    /// 0 for a SHORT_ANSWER question, which has no choices.
    correct_choice: i32,
    /// The correct choice's text, or the first accepted typed answer.
    correct_content: String,
    is_correct: bool,
    explanation: Option<String>,
    /// Why the model took a typed answer that was close to an accepted one as right or wrong;
    /// null when it did not judge the answer.
    grading_note: Option<String>,
    /// The passage of the study text the question was built from; null for a quiz generated
    /// from a topic alone (and for quizzes made before passages were kept).
    source: Option<SourcePassage>,
}

/// A passage of the study text. Offsets count characters (Unicode scalar values) into the
/// study text the quiz was built from: `sourceText` as sent, or the uploaded material's text.
#[derive(SimpleObject)]
pub struct SourcePassage {
    /// The study text from `start` to `end`.
    excerpt: String,
    /// Where the passage begins.
    start: i32,
    /// Where the passage ends (exclusive).
    end: i32,
    /// The page of the uploaded PDF the passage begins on, from 1; null for text without pages.
    page: Option<i32>,
}

impl From<&SourcePassageRecord> for SourcePassage {
    fn from(p: &SourcePassageRecord) -> Self {
        SourcePassage {
            excerpt: p.excerpt.clone(),
            start: int(p.start),
            end: int(p.end),
            page: p.page.map(int),
        }
    }
}

impl From<&AnswerRecord> for AnswerResult {
    fn from(a: &AnswerRecord) -> Self {
        AnswerResult {
            question_number: int(a.question_number),
            question: a.question.clone(),
            selected_choice: a.selected_choice.map(int),
            selected_content: a.selected_content.clone(),
            correct_choice: int(a.correct_choice),
            correct_content: a.correct_content.clone(),
            is_correct: a.is_correct,
            explanation: a.explanation.clone(),
            grading_note: a.grading_note.clone(),
            source: a.source.as_ref().map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
pub struct QuestionFeedback {
    question_number: i32,
    feedback: String,
}

#[derive(SimpleObject)]
pub struct QuizFeedback {
    summary: String,
    /// One item per question answered wrongly or left unanswered.
    items: Vec<QuestionFeedback>,
}

/// A graded submission: a snapshot that survives the quiz's deletion.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct QuizResult {
    id: ID,
    quiz_id: ID,
    quiz_title: String,
    correct_count: i32,
    total_questions: i32,
    /// Percentage of correct answers, 0 to 100.
    score: f64,
    details: Vec<AnswerResult>,
    submitted_at: DateTime<Utc>,
    #[graphql(skip)]
    record: QuizResultRecord,
}

impl From<QuizResultRecord> for QuizResult {
    fn from(r: QuizResultRecord) -> Self {
        QuizResult {
            id: ID(r.id.to_string()),
            quiz_id: ID(r.quiz_id.to_string()),
            quiz_title: r.quiz_title.clone(),
            correct_count: int(r.correct_count),
            total_questions: int(r.total_questions),
            score: r.score,
            details: r.answers.iter().map(Into::into).collect(),
            submitted_at: r.submitted_at,
            record: r,
        }
    }
}

#[ComplexObject]
impl QuizResult {
    /// What went wrong and how to get it right: by the LLM when one is configured (asked once,
    /// then cached), otherwise built from the result.
    async fn feedback(&self, ctx: &Context<'_>) -> Result<QuizFeedback> {
        let f = ctx
            .quiz_service()
            .feedback(&self.record, ctx.request_budget())
            .await?;
        Ok(QuizFeedback {
            summary: f.summary,
            items: f
                .items
                .into_iter()
                .map(|i| QuestionFeedback {
                    question_number: int(i.question_number),
                    feedback: i.feedback,
                })
                .collect(),
        })
    }
}

/// `totalCount` beside `edges` and `pageInfo`.
#[derive(SimpleObject)]
pub struct TotalCount {
    total_count: i32,
}

/// A Relay connection of `Node`s, named `<Node>Connection` with `<Node>Edge` edges. Cursors are
/// already encoded strings: `first` and `after` are checked by [`PageRequest`], whose errors name
/// the argument (`connection::query` reports them without `field`).
pub type RelayConnection<Node> = Connection<
    String,
    Node,
    TotalCount,
    EmptyFields,
    DefaultConnectionName,
    DefaultEdgeName,
    DisableNodesField,
>;

pub(super) fn connection<R: Positioned + Into<Node>, Node: OutputType>(
    page: Page<R>,
) -> RelayConnection<Node> {
    let total_count = i32::try_from(page.total_count).unwrap_or(i32::MAX);
    let mut connection = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        TotalCount { total_count },
    );
    connection.edges = page
        .items
        .into_iter()
        .map(|r| Edge::new(r.cursor(), r.into()))
        .collect();
    connection
}

/// Where a record sits in its newest-first list.
pub(super) trait Positioned {
    fn cursor(&self) -> String;
}

impl Positioned for Arc<QuizRecord> {
    fn cursor(&self) -> String {
        encode_cursor(self.created_at, self.id.as_str())
    }
}

impl Positioned for QuizResultRecord {
    fn cursor(&self) -> String {
        encode_cursor(self.submitted_at, self.id.as_str())
    }
}

#[derive(Default)]
pub struct QuizQuery;

#[Object]
impl QuizQuery {
    /// One of your quizzes; `null` if it does not exist or is not yours.
    #[graphql(guard = "LoggedIn")]
    async fn quiz(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Quiz>> {
        let owner = &ctx.claims()?.sub;
        Ok(ctx.quiz_service().quiz(owner, &id).await?.map(Into::into))
    }

    /// Your quizzes, newest first.
    #[graphql(guard = "LoggedIn", complexity = "page_cost(first, child_complexity)")]
    async fn quizzes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<RelayConnection<Quiz>> {
        let owner = &ctx.claims()?.sub;
        let page = PageRequest::new(Some(first), after.as_deref())?;
        Ok(connection(ctx.quiz_service().quizzes(owner, page).await?))
    }

    /// One of your results; `null` if it does not exist or is not yours.
    #[graphql(guard = "LoggedIn")]
    async fn quiz_result(&self, ctx: &Context<'_>, id: ID) -> Result<Option<QuizResult>> {
        let owner = &ctx.claims()?.sub;
        Ok(ctx.quiz_service().result(owner, &id).await?.map(Into::into))
    }

    /// Your results, newest first; only those of one quiz when `quizId` is given.
    #[graphql(guard = "LoggedIn", complexity = "page_cost(first, child_complexity)")]
    async fn quiz_results(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
        quiz_id: Option<ID>,
    ) -> Result<RelayConnection<QuizResult>> {
        let owner = &ctx.claims()?.sub;
        let page = PageRequest::new(Some(first), after.as_deref())?;
        let quiz_id = quiz_id.as_ref().map(|id| id.as_str());
        Ok(connection(
            ctx.quiz_service().results(owner, quiz_id, page).await?,
        ))
    }
}

#[derive(Default)]
pub struct QuizMutation;

#[Object]
impl QuizMutation {
    /// Generates a quiz: by the LLM when one is configured, otherwise offline from `sourceText`.
    #[graphql(guard = "LoggedIn")]
    async fn generate_quiz(&self, ctx: &Context<'_>, input: GenerateQuizInput) -> Result<Quiz> {
        let owner = &ctx.claims()?.sub;
        Ok(ctx
            .quiz_service()
            .generate(
                owner,
                input.resolve(ctx).await?,
                ctx.request_budget(),
                ctx.request_auth().client(),
            )
            .await?
            .into())
    }

    /// Grades your answers and keeps the result. Unanswered questions count as wrong. A typed
    /// answer is compared normalised (case, width, spacing, punctuation, a Korean particle);
    /// with an LLM configured, one close to an accepted answer is judged by the model.
    #[graphql(guard = "LoggedIn")]
    async fn submit_quiz_answers(
        &self,
        ctx: &Context<'_>,
        quiz_id: ID,
        answers: Vec<AnswerInput>,
    ) -> Result<QuizResult> {
        let owner = &ctx.claims()?.sub;
        let answers: Vec<Answer> = answers
            .into_iter()
            .map(|a| Answer {
                question_number: a.question_number,
                choice_number: a.choice_number,
                text: a.text,
            })
            .collect();
        Ok(ctx
            .quiz_service()
            .submit(
                owner,
                &quiz_id,
                &answers,
                ctx.request_budget(),
                ctx.request_auth().client(),
            )
            .await?
            .into())
    }

    /// Deletes one of your quizzes; its results are kept.
    #[graphql(guard = "LoggedIn")]
    async fn delete_quiz(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let owner = &ctx.claims()?.sub;
        ctx.quiz_service().delete(owner, &id).await?;
        Ok(true)
    }
}
