//! `GET /auth/oidc/<provider>/callback`: where a provider sends the browser back after a
//! social sign-in. It always answers with a redirect to the sign-in's `returnTo`: logged in
//! (the `access` cookie set), or with `?error=<code>` (and `mfaToken` for `mfa_required`).

use poem::{
    Request, Response, handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Path, Query},
};

use super::{HttpState, graphql::client_info};
use crate::auth::social::{CallbackParams, SocialSuccess};

#[handler]
pub async fn callback(
    req: &Request,
    Path(provider): Path<String>,
    params: poem::Result<Query<CallbackParams>>,
    http: Data<&HttpState>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let client = client_info(req, &http);
    let outcome = http
        .auth
        .finish_social_login(&provider, params, &client)
        .await;
    let mut location = url::Url::parse(&outcome.return_to).unwrap_or_else(|_| {
        url::Url::parse(&http.auth.settings().public_url).expect("PUBLIC_URL is a URL")
    });
    let mut cookies = Vec::new();
    match outcome.result {
        Ok(SocialSuccess::LoggedIn(login)) => {
            cookies.extend(
                http.cookies
                    .login(&login.access, login.user.username.as_str()),
            );
        }
        Ok(SocialSuccess::Linked) => {}
        Err((failure, mfa_token)) => {
            let mut query = location.query_pairs_mut();
            query.append_pair("error", failure.as_str());
            if let Some(token) = &mfa_token {
                query.append_pair("mfaToken", token);
            }
        }
    }
    let mut resp = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location.as_str())
        // The code and state in this URL must not leak to the next page, nor be cached.
        .header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
        .header(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        )
        .finish();
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    resp
}
