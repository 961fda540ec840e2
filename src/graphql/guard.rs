use async_graphql::{Context, Guard, Result};

use super::context::ContextExt;

/// Admits callers with a valid access token whose session has not ended. The token was checked
/// once before the operation ran, so this only reads the verdict.
pub struct LoggedIn;

impl Guard for LoggedIn {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        ctx.claims()?;
        Ok(())
    }
}
