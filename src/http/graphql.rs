//! GraphQL over HTTP: POST for everything, GET for queries only.

use async_graphql::{
    Response,
    parser::types::{DocumentOperations, OperationType},
};
use async_graphql_poem::{GraphQLRequest, GraphQLResponse};
use poem::{
    IntoResponse, Request, handler,
    http::{StatusCode, header},
    web::{Data, Query},
};
use serde::Deserialize;

use super::cookies;
use crate::{
    error::ErrorCode,
    graphql::{AppSchema, context::RequestAuth, error::ensure_codes},
};

fn request_auth(req: &Request) -> RequestAuth {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    RequestAuth::new(cookies::access_token(req.headers()), user_agent)
}

fn request_error(status: StatusCode, message: &str) -> poem::Response {
    super::error_response(status, ErrorCode::BadUserInput, message)
}

async fn execute(schema: &AppSchema, req: &Request, gql: async_graphql::Request) -> poem::Response {
    let response: Response = schema.execute(gql.data(request_auth(req))).await;
    GraphQLResponse(ensure_codes(response)).into_response()
}

#[handler]
pub async fn post(
    req: &Request,
    gql: poem::Result<GraphQLRequest>,
    schema: Data<&AppSchema>,
) -> poem::Response {
    match gql {
        Ok(GraphQLRequest(gql)) => execute(&schema, req, gql).await,
        Err(err) => request_error(
            StatusCode::BAD_REQUEST,
            &format!("Could not read the GraphQL request: {err}"),
        ),
    }
}

/// The GraphQL-over-HTTP GET parameters (note `operationName`, camel-case, as the spec names it).
#[derive(Debug, Deserialize)]
pub struct GetParams {
    #[serde(default)]
    query: String,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

impl GetParams {
    fn into_request(self) -> Result<async_graphql::Request, String> {
        let mut gql = async_graphql::Request::new(self.query);
        gql.operation_name = self.operation_name.filter(|n| !n.is_empty());
        if let Some(v) = self.variables.filter(|v| !v.trim().is_empty()) {
            gql.variables =
                serde_json::from_str(&v).map_err(|e| format!("invalid variables: {e}"))?;
        }
        if let Some(e) = self.extensions.filter(|e| !e.trim().is_empty()) {
            gql.extensions =
                serde_json::from_str(&e).map_err(|e| format!("invalid extensions: {e}"))?;
        }
        Ok(gql)
    }
}

#[handler]
pub async fn get(
    req: &Request,
    params: poem::Result<Query<GetParams>>,
    schema: Data<&AppSchema>,
) -> poem::Response {
    let parsed = params
        .map_err(|e| e.to_string())
        .and_then(|Query(p)| p.into_request());
    let mut gql = match parsed {
        Ok(gql) => gql,
        Err(err) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                &format!("Could not read the GraphQL request: {err}"),
            );
        }
    };
    if is_mutation(&mut gql) {
        return request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations must be sent with POST.",
        )
        .with_header(header::ALLOW, "POST")
        .into_response();
    }
    execute(&schema, req, gql).await
}

/// Whether the operation that would run is a mutation; unparsable documents are left for the
/// executor to report.
fn is_mutation(gql: &mut async_graphql::Request) -> bool {
    let name = gql.operation_name.clone();
    let Ok(doc) = gql.parsed_query() else {
        return false;
    };
    let ty = match &doc.operations {
        DocumentOperations::Single(op) => Some(op.node.ty),
        DocumentOperations::Multiple(ops) => match &name {
            Some(name) => ops.get(name.as_str()).map(|op| op.node.ty),
            None if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
            None => None,
        },
    };
    ty == Some(OperationType::Mutation)
}
