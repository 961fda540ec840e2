//! Who an account is: the username and e-mail address, parsed once where they enter (so code
//! that holds a [`Username`] or an [`EmailAddress`] never checks it again), and the keys the
//! stores keep unique and look accounts up by.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::is_nfkc;

use super::{AppError, AppResult, Message, MessageKey};

/// How every guest's name starts (see [`Username::guest`]).
pub const GUEST_PREFIX: &str = "guest#";
/// Allowed username lengths, in characters.
pub const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=30;
/// RFC 5321's limit on a forward path.
const EMAIL_MAX_LEN: usize = 254;

/// A username as its owner spelled it: 3–30 of the letters a–z (any case), digits, `_ . -`,
/// with at least one letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let name = raw.trim();
        let len = name.chars().count();
        if !USERNAME_LEN.contains(&len) {
            return Err(AppError::bad_input(
                "username",
                Message::new(MessageKey::UsernameLength)
                    .with("min", *USERNAME_LEN.start())
                    .with("max", *USERNAME_LEN.end()),
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(AppError::bad_input(
                "username",
                MessageKey::UsernameCharacters,
            ));
        }
        if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(AppError::bad_input(
                "username",
                MessageKey::UsernameNeedsAlphanumeric,
            ));
        }
        Ok(Username(name.to_owned()))
    }

    /// A guest's name: `guest#` and 16 random hex digits. `parse` refuses `#`, so no sign-up
    /// can take or imitate it; the digits keep guests apart (a clash fails the insert, which is
    /// retried).
    pub fn guest() -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Username(format!("{GUEST_PREFIX}{}", &random[..16]))
    }

    /// A name read back from a store, which took it through [`Username::parse`] when the account
    /// was made; it is not checked again, so accounts made under older rules still load.
    pub fn from_stored(name: String) -> Self {
        Username(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key the account is unique by (see [`username_skeleton`]).
    pub fn key(&self) -> String {
        username_skeleton(&self.0)
    }
}

/// An e-mail address as its owner typed it: one the mailer can deliver to (lettre's own parser
/// decides), with a single spelling: quoted or escaped local parts, and characters that NFKC
/// changes (a Kelvin sign for a `K`), would let many strings name one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let email = raw.trim();
        let invalid = || AppError::bad_input("email", MessageKey::EmailInvalid);
        if email.is_empty() {
            return Err(AppError::bad_input("email", MessageKey::EmailRequired));
        }
        if email.len() > EMAIL_MAX_LEN {
            return Err(invalid());
        }
        if email.contains(['"', '\\']) {
            return Err(AppError::bad_input("email", MessageKey::EmailQuoted));
        }
        if !is_nfkc(email) {
            return Err(AppError::bad_input("email", MessageKey::EmailLookAlike));
        }
        let address: lettre::Address = email.parse().map_err(|_| invalid())?;
        // A domain without a dot (user@localhost) or an IP literal is valid syntax but not an
        // address anyone signs up with.
        let domain = address.domain();
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(invalid());
        }
        Ok(EmailAddress(email.to_owned()))
    }

    /// An address read back from a store (see [`Username::from_stored`]).
    pub fn from_stored(address: String) -> Self {
        EmailAddress(address)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key the account is unique by and mail is sent to (see [`canonical_email`]).
    pub fn key(&self) -> String {
        canonical_email(&self.0)
    }

    /// The address with its local part hidden but for the first character (`n***@example.com`):
    /// enough for its owner to recognise, too little for anyone else to write to.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key an e-mail address typed at a lookup (a reset request, a login) is found by; an
/// over-long one matches no account, so it is not worth canonicalising.
pub fn email_key(raw: &str) -> String {
    let raw = raw.trim();
    if raw.len() > EMAIL_MAX_LEN {
        return raw.to_lowercase();
    }
    canonical_email(raw)
}

/// What `login` accepts: an e-mail address or a username, as the key the account is stored by.
pub fn login_key(raw: &str) -> String {
    if raw.contains('@') {
        email_key(raw)
    } else {
        username_skeleton(raw)
    }
}

/// The look-alike key a username is unique by: the Unicode confusables skeleton (UTS #39) of
/// the lower-cased name, which maps `m` to `rn`, `1` and `I` to `l`, `0` to `O` and Cyrillic or
/// Greek look-alikes to their Latin letters; then, on top, what the skeleton leaves apart but
/// many fonts do not: `w` and `vv`, `d` and `cl`, `i` and `l`, `o` and `O`, and the separators
/// `_ . -` dropped. So `rnary`, `vvill`, `aIice`, `al1ce` and `alice.` collide with `mary`,
/// `will` and `alice`. It is also what a login name is looked up by, whatever its characters.
pub fn username_skeleton(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    let mut key = String::with_capacity(lower.len());
    for c in unicode_security::skeleton(&lower).flat_map(char::to_lowercase) {
        match c {
            '_' | '.' | '-' => {}
            'i' => key.push('l'),
            'w' => key.push_str("vv"),
            'd' => key.push_str("cl"),
            c => key.push(c),
        }
    }
    key
}

/// The one spelling of the address the mailer delivers to: the local part lower-cased (accounts
/// never told `Ada@` from `ada@`) and the domain in lower-case ASCII (IDNA), so `ada@bücher.de`
/// and `ada@xn--bcher-kva.de` are one address.
pub fn canonical_email(address: &str) -> String {
    let address = address.trim();
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase());
            format!("{}@{domain}", local.to_lowercase())
        }
        None => address.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse(" ada.l-ovelace_1 ").unwrap().as_str(),
            "ada.l-ovelace_1"
        );
        for bad in [
            "ab",
            &"a".repeat(31),
            "ada lovelace",
            "ada@x",
            "아다아다",
            "._-",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn guest_names_are_distinct_and_no_sign_up_can_take_one() {
        let (a, b) = (Username::guest(), Username::guest());
        assert_ne!(a.key(), b.key());
        assert!(a.as_str().starts_with(GUEST_PREFIX) && a.as_str().len() == 22);
        assert!(Username::parse(a.as_str()).is_err());
        // Look-alikes of a guest's name are other names: the skeleton keeps the `#`.
        assert_ne!(username_skeleton(&a.as_str().replace('#', "-")), a.key());
    }

    #[test]
    fn emails() {
        for good in [
            "ada@example.com",
            "Ada.Lovelace+quiz@Example.com",
            "ada@bücher.de",
        ] {
            assert_eq!(EmailAddress::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "ada@[127.0.0.1]",
            "a b@example.com",
            "\"alice\"@example.com",
            "\"al\\ice\"@example.com",
            "\"alice bob\"@example.com",
            "\u{212A}ate@example.com",
            "ａda@example.com",
            "ada@ｅxample.com",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert!(
                matches!(err, AppError::BadUserInput(ref e) if e.field == "email"),
                "{bad}"
            );
        }
    }

    #[test]
    fn masked_addresses_keep_the_first_character_and_the_domain() {
        let masked = |raw: &str| EmailAddress::parse(raw).unwrap().masked();
        assert_eq!(masked("new.owner@example.com"), "n***@example.com");
        assert_eq!(masked("x@example.com"), "x***@example.com");
        assert_eq!(masked("세종@example.com"), "세***@example.com");
    }

    #[test]
    fn lookup_keys() {
        assert_eq!(login_key(" AIice "), login_key("alice"));
        assert_eq!(login_key("Ada@Example.com"), "ada@example.com");
        assert_eq!(email_key(&"a".repeat(300)), "a".repeat(300));
        assert_eq!(
            EmailAddress::parse("Ada@Bücher.de").unwrap().key(),
            "ada@xn--bcher-kva.de"
        );
        assert_eq!(Username::parse("AL1CE").unwrap().key(), "allce");
    }

    #[test]
    fn look_alike_usernames_share_a_skeleton() {
        for name in [
            "alice", "ALICE", "aIice", "al1ce", "alice.", "a.l-i_ce", "AL1CE", "a1ice",
        ] {
            assert_eq!(
                username_skeleton(name),
                username_skeleton("alice"),
                "{name}"
            );
        }
        assert_eq!(username_skeleton("b0b"), username_skeleton("BOB"));
        for (name, original) in [
            ("rnary", "mary"),
            ("RNARY", "Mary"),
            ("vvill", "will"),
            ("VViLL", "will"),
            ("cIay", "day"),
            // Cyrillic а, о and Greek ο (a login name may be typed with anything).
            ("m\u{430}ry", "mary"),
            ("b\u{43e}b", "bob"),
            ("b\u{3bf}b", "bob"),
        ] {
            assert_eq!(
                username_skeleton(name),
                username_skeleton(original),
                "{name}"
            );
        }
        assert_ne!(username_skeleton("alice"), username_skeleton("alicia"));
        assert_ne!(username_skeleton("bob"), username_skeleton("rob"));
    }

    #[test]
    fn one_spelling_per_address() {
        assert_eq!(canonical_email(" Ada@Example.COM "), "ada@example.com");
        assert_eq!(
            canonical_email("ada@Bücher.de"),
            canonical_email("ada@xn--bcher-kva.de")
        );
        assert_eq!(canonical_email("not an address"), "not an address");
    }
}
