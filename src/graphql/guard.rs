use async_graphql::{Context, Guard, Result};

use super::context::ContextExt;

/// Admits callers with a valid access token. Stateless: a signature check, no database hit.
pub struct LoggedIn;

impl Guard for LoggedIn {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        ctx.claims()?;
        Ok(())
    }
}
