//! Schema assembly. Each domain contributes its own query and mutation objects; resolvers stay
//! thin and call the domain services.

mod auth;
pub mod context;
pub mod cookies;
mod email_change;
pub mod error;
mod guard;
pub mod limits;
mod live;
mod materials;
mod mfa;
mod passkeys;
mod questions;
mod quiz;
mod review;
pub mod single_root;
mod social;
pub mod trusted;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::{
    auth::AuthService,
    quiz::{QuizService, materials::MaterialService},
};
use cookies::CookiePolicy;
use limits::QueryLimits;
pub use live::{ActiveSubscriptions, LiveField};

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    auth::AuthQuery,
    quiz::QuizQuery,
    live::LiveQuery,
    materials::MaterialQuery,
    review::ReviewQuery,
    social::SocialQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    auth::AuthMutation,
    mfa::MfaMutation,
    passkeys::PasskeyMutation,
    quiz::QuizMutation,
    review::ReviewMutation,
    live::LiveMutation,
    materials::MaterialMutation,
    social::SocialMutation,
    email_change::EmailChangeMutation,
);

#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(live::LiveSubscription);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
}

pub fn build_schema(
    auth: Arc<AuthService>,
    quizzes: Arc<QuizService>,
    materials: Arc<MaterialService>,
    cookies: CookiePolicy,
    limits: &QueryLimits,
    active: ActiveSubscriptions,
) -> AppSchema {
    let mut builder = builder()
        .data(auth)
        .data(active)
        .data(quizzes)
        .data(materials)
        .data(cookies)
        // A backstop: `limits` counts depth and fields (`__typename` too) before validation.
        .limit_depth(limits.max_depth)
        // Again after validation, where pages cost their items (`limits::page_cost`); an
        // extension would do the same, but would put every field's resolution on a slower path.
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(limits.max_depth.max(32))
        .limit_directives(10);
    if !limits.introspection {
        // Suggestions ("did you mean …") would leak field names introspection hides.
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    builder().finish().sdl()
}
