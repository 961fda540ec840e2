//! A software authenticator for the passkey tests: answers the options the server hands out
//! the way `navigator.credentials.create` / `.get` would with a platform authenticator that
//! verified the user: ES256 keys, "none" attestation, a resident credential holding the user
//! handle, and a signature counter the test can set.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// User present and user verified.
const UP_UV: u8 = 0x01 | 0x04;
/// Attested credential data follows.
const AT: u8 = 0x40;

pub struct SoftPasskey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    origin: String,
    /// Sent, then increased, by each login.
    pub counter: u32,
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.into())
}

fn int(i: i128) -> Cbor {
    Cbor::Integer(i)
}

fn client_data(kind: &str, options: &Value, origin: &str) -> Vec<u8> {
    let challenge = options["publicKey"]["challenge"]
        .as_str()
        .unwrap_or_else(|| panic!("no challenge in {options}"));
    json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
        .to_string()
        .into_bytes()
}

impl SoftPasskey {
    /// A new credential for the registration `options` (from `startPasskeyRegistration`), made
    /// on a page of `origin`; returns it with the credential to send to
    /// `finishPasskeyRegistration`.
    pub fn register(options: &Value, origin: &str) -> (SoftPasskey, Value) {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().expect("rp.id");
        let user_handle = B64
            .decode(public_key["user"]["id"].as_str().expect("user.id"))
            .expect("user.id is base64url");
        let passkey = SoftPasskey {
            // A random scalar; one outside the curve's order (odds 2^-32) would fail loudly.
            key: SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap(),
            credential_id: rand::random::<[u8; 32]>().to_vec(),
            user_handle,
            origin: origin.into(),
            counter: 0,
        };
        let point = passkey.key.verifying_key().to_encoded_point(false);
        let cose_key = Cbor::Map(
            [
                (int(1), int(2)),  // kty: EC2
                (int(3), int(-7)), // alg: ES256
                (int(-1), int(1)), // crv: P-256
                (int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
                (int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
            ]
            .into(),
        );
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP_UV | AT);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((passkey.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&passkey.credential_id);
        auth_data.extend(serde_cbor_2::to_vec(&cose_key).unwrap());
        let attestation = Cbor::Map(
            [
                (text("fmt"), text("none")),
                (text("attStmt"), Cbor::Map(Default::default())),
                (text("authData"), Cbor::Bytes(auth_data)),
            ]
            .into(),
        );
        let id = B64.encode(&passkey.credential_id);
        let credential = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(serde_cbor_2::to_vec(&attestation).unwrap()),
                "clientDataJSON": B64.encode(client_data("webauthn.create", options, origin)),
            },
            "clientExtensionResults": {},
        });
        (passkey, credential)
    }

    /// Answers the login `options` (from `startPasskeyLogin`) with the next counter value.
    pub fn login(&mut self, options: &Value) -> Value {
        self.counter += 1;
        self.assert(options, self.counter)
    }

    /// Answers the login `options` with the given counter value, as a clone of this
    /// authenticator that fell behind would.
    pub fn assert(&self, options: &Value, counter: u32) -> Value {
        let rp_id = options["publicKey"]["rpId"].as_str().expect("rpId");
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP_UV);
        auth_data.extend(counter.to_be_bytes());
        let client_data = client_data("webauthn.get", options, &self.origin);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}
