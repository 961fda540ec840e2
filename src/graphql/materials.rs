//! Study material: uploads (GraphQL multipart request spec), the list, deletion.

use async_graphql::{Context, ID, Object, Result, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use super::{
    context::ContextExt,
    guard::LoggedIn,
    limits::page_cost,
    quiz::{Positioned, RelayConnection, connection, int},
};
use crate::{
    domain::{AppError, MaterialSummary, MessageKey},
    quiz::{
        materials::UploadedFile,
        page::{PageRequest, encode_cursor},
    },
};

/// An uploaded file, as its extracted text is kept (the file itself is not).
#[derive(SimpleObject)]
pub struct StudyMaterial {
    id: ID,
    title: String,
    /// `application/pdf`, `text/markdown` or `text/plain`.
    media_type: String,
    /// Pages of a PDF; `null` for text.
    page_count: Option<i32>,
    /// Characters of extracted text.
    char_count: i32,
    created_at: DateTime<Utc>,
}

impl From<MaterialSummary> for StudyMaterial {
    fn from(m: MaterialSummary) -> Self {
        StudyMaterial {
            id: ID(m.id.to_string()),
            title: m.title,
            media_type: m.media_type.as_str().to_owned(),
            page_count: m.page_count.map(int),
            char_count: int(m.char_count),
            created_at: m.created_at,
        }
    }
}

impl Positioned for MaterialSummary {
    fn cursor(&self) -> String {
        encode_cursor(self.created_at, self.id.as_str())
    }
}

#[derive(Default)]
pub struct MaterialQuery;

#[Object]
impl MaterialQuery {
    /// Your study materials, newest first.
    #[graphql(guard = "LoggedIn", complexity = "page_cost(first, child_complexity)")]
    async fn study_materials(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<RelayConnection<StudyMaterial>> {
        let owner = &ctx.claims()?.sub;
        let page = PageRequest::new(Some(first), after.as_deref())?;
        Ok(connection(
            ctx.material_service().materials(owner, page).await?,
        ))
    }
}

#[derive(Default)]
pub struct MaterialMutation;

#[Object]
impl MaterialMutation {
    /// Uploads a PDF (with a text layer), Markdown or plain text file (UTF-8, UTF-16 with a
    /// byte order mark, or EUC-KR/CP949) to build quizzes from with `materialId`. Only its text
    /// is kept. `title` defaults to the file's name.
    #[graphql(guard = "LoggedIn")]
    async fn upload_study_material(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        title: Option<String>,
    ) -> Result<StudyMaterial> {
        let owner = &ctx.claims()?.sub;
        let value = file
            .value(ctx)
            .map_err(|_| AppError::bad_input("file", MessageKey::NoFileSent))?;
        let file = UploadedFile {
            filename: value.filename,
            content: value.content,
        };
        Ok(ctx
            .material_service()
            .upload(owner, title, file)
            .await?
            .into())
    }

    /// Deletes one of your study materials; quizzes built from it are kept.
    #[graphql(guard = "LoggedIn")]
    async fn delete_study_material(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let owner = &ctx.claims()?.sub;
        ctx.material_service().delete(owner, &id).await?;
        Ok(true)
    }
}
