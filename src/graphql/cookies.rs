//! The `access` and `username` cookies. The access cookie outlives the token inside it by the
//! idle timeout, so a browser still sends the expired token to `refreshToken`.

use poem::http::{HeaderMap, header};

use crate::auth::{AuthSettings, IssuedToken};

pub const ACCESS_COOKIE: &str = "access";
pub const USERNAME_COOKIE: &str = "username";
/// With `Secure`, the names get the `__Host-` prefix: browsers then refuse the cookie unless it
/// came over HTTPS from this very host with `Path=/` and no `Domain`, so a sibling subdomain
/// cannot plant or overwrite it.
const HOST_PREFIX: &str = "__Host-";

#[derive(Debug, Clone)]
pub struct CookiePolicy {
    pub secure: bool,
    pub http_only: bool,
    pub max_age_secs: u64,
}

/// `COOKIE_SECURE` and `COOKIE_HTTP_ONLY`.
#[derive(Debug, Clone, clap::Args)]
pub struct CookieSettings {
    /// Set `Secure` on the cookies and give them the `__Host-` prefix (behind HTTPS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
    /// Keep the `access` cookie away from scripts.
    #[arg(long, env = "COOKIE_HTTP_ONLY", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_http_only: bool,
}

impl CookiePolicy {
    pub fn new(cookies: &CookieSettings, auth: &AuthSettings) -> Self {
        CookiePolicy {
            secure: cookies.cookie_secure,
            http_only: cookies.cookie_http_only,
            max_age_secs: (auth.access_token_ttl + auth.session_idle_timeout).as_secs(),
        }
    }
}

impl CookiePolicy {
    fn name(&self, base: &str) -> String {
        if self.secure {
            format!("{HOST_PREFIX}{base}")
        } else {
            base.to_owned()
        }
    }

    fn cookie(&self, base: &str, value: &str, http_only: bool, max_age: Option<u64>) -> String {
        let name = self.name(base);
        let mut c = format!("{name}={value}; Path=/; SameSite=Lax");
        match max_age {
            Some(secs) => c.push_str(&format!("; Max-Age={secs}")),
            None => c.push_str("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
        }
        if http_only {
            c.push_str("; HttpOnly");
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    /// `Set-Cookie` values after a login or refresh.
    pub fn login(&self, access: &IssuedToken, username: &str) -> [String; 2] {
        let age = Some(self.max_age_secs);
        [
            self.cookie(ACCESS_COOKIE, &access.token, self.http_only, age),
            // Readable by scripts, as in the original design, so a page can greet the user.
            self.cookie(USERNAME_COOKIE, username, false, age),
        ]
    }

    /// `Set-Cookie` values that expire both cookies.
    pub fn logout(&self) -> [String; 2] {
        [
            self.cookie(ACCESS_COOKIE, "", self.http_only, None),
            self.cookie(USERNAME_COOKIE, "", false, None),
        ]
    }

    /// The access token a request carries: `Authorization: Bearer` wins over the cookie.
    pub fn access_token(&self, headers: &HeaderMap) -> Option<String> {
        access_token(headers, &self.name(ACCESS_COOKIE))
    }
}

fn access_token(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    if let Some(token) = bearer {
        return Some(token.to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == cookie_name && !value.is_empty())
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    #[test]
    fn bearer_wins_over_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; access=fromcookie"),
        );
        assert_eq!(access_token(&h, "access").as_deref(), Some("fromcookie"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer fromheader"),
        );
        assert_eq!(access_token(&h, "access").as_deref(), Some("fromheader"));
    }

    #[test]
    fn attributes() {
        let p = CookiePolicy {
            secure: true,
            http_only: true,
            max_age_secs: 2700,
        };
        let t = IssuedToken {
            token: "t".into(),
            expires_at: chrono::Utc::now(),
        };
        let [access, name] = p.login(&t, "ada");
        assert_eq!(
            access,
            "__Host-access=t; Path=/; SameSite=Lax; Max-Age=2700; HttpOnly; Secure"
        );
        assert_eq!(
            name,
            "__Host-username=ada; Path=/; SameSite=Lax; Max-Age=2700; Secure"
        );
    }
}
