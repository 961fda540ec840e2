//! A fake OpenID Connect issuer for the failure paths a real provider never takes: it answers
//! discovery, its keys and the token endpoint, and hands out whatever ID token the test planned
//! (a wrong nonce or audience, an expired token, one signed with a key it never published).
//! Sign-ins that should work run against the real provider (`common::oidc`).

use std::sync::{Arc, Mutex};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use poem::{
    EndpointExt, Route, get, handler,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Json},
};
use serde_json::{Value, json};

pub struct FakeIssuer {
    pub issuer: String,
    state: Arc<State>,
}

struct State {
    issuer: String,
    /// The published key and its id; [`FakeIssuer::rotate_keys`] replaces it.
    key: Mutex<(SigningKey, String)>,
    /// Signs tokens without being published: a forged signature.
    stranger: SigningKey,
    /// The claims and signing key of the next ID token.
    plan: Mutex<Option<(Value, bool)>>,
}

/// A fake issuer's client, as the server is configured with it.
pub const CLIENT_ID: &str = "quiz-llm-test";

impl FakeIssuer {
    pub async fn start() -> FakeIssuer {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        let issuer = format!("http://{addr}");
        let state = Arc::new(State {
            issuer: issuer.clone(),
            key: Mutex::new((new_key(), "k1".into())),
            stranger: new_key(),
            plan: Mutex::new(None),
        });
        let app = Route::new()
            .at("/.well-known/openid-configuration", get(discovery))
            .at("/jwks", get(jwks))
            .at("/token", post(token))
            .data(state.clone());
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        FakeIssuer { issuer, state }
    }

    /// The next token endpoint answer carries an ID token with `claims`, signed with the
    /// published key, or (`forged`) with one it never published.
    pub fn plan(&self, claims: Value, forged: bool) {
        *self.state.plan.lock().unwrap() = Some((claims, forged));
    }

    /// Publishes a new key under a new id, and signs with it from now on, as a provider rotating
    /// its keys does.
    pub fn rotate_keys(&self) {
        let mut key = self.state.key.lock().unwrap();
        let next = format!("k{}", key.1[1..].parse::<u32>().unwrap() + 1);
        *key = (new_key(), next);
    }

    /// Claims that pass every check for a sign-in that sent `nonce`, at `now` (Unix seconds).
    pub fn good_claims(&self, nonce: &str, now: i64) -> Value {
        json!({
            "iss": self.issuer, "sub": "fake-subject-1", "aud": CLIENT_ID,
            "iat": now, "exp": now + 300, "nonce": nonce,
            "email": "fake.person@example.com", "email_verified": true,
        })
    }
}

/// A random P-256 key; a scalar outside the curve's order (odds 2^-32) would fail loudly.
fn new_key() -> SigningKey {
    SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap()
}

#[handler]
fn discovery(state: Data<&Arc<State>>) -> Json<Value> {
    let i = &state.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

#[handler]
fn jwks(state: Data<&Arc<State>>) -> Json<Value> {
    let (key, kid) = state.key.lock().unwrap().clone();
    let point = key.verifying_key().to_encoded_point(false);
    Json(json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    }]}))
}

#[handler]
fn token(state: Data<&Arc<State>>) -> Json<Value> {
    let (claims, forged) = state
        .plan
        .lock()
        .unwrap()
        .take()
        .expect("the test planned the ID token");
    let (published, kid) = state.key.lock().unwrap().clone();
    let header =
        URL_SAFE_NO_PAD.encode(json!({ "alg": "ES256", "typ": "JWT", "kid": kid }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let key = if forged { &state.stranger } else { &published };
    let signature: Signature = key.sign(signed.as_bytes());
    let id_token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    Json(json!({
        "access_token": "fake-access-token", "token_type": "Bearer", "expires_in": 300,
        "id_token": id_token,
    }))
}
