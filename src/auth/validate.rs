//! Input rules for accounts. Each failure names the field it is about. Everything here but
//! [`password_strength`] is cheap, so it runs before any rate limit is spent.

use unicode_normalization::is_nfkc;

use crate::{
    cpu,
    domain::identity::{canonical_email, username_skeleton},
    domain::{AppError, AppResult},
};

pub const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=30;
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 10..=128;
const EMAIL_MAX_LEN: usize = 254;
/// zxcvbn sees only this many characters: its cost grows fast with length (a 128-character run
/// of l33t symbols takes seconds in a debug build, about 0.5 s optimised), and the first 64
/// characters tell enough about strength.
const STRENGTH_MAX_CHARS: usize = 64;

/// The key an e-mail address is looked up and rate-limited by; an over-long one matches no
/// account, so it is not worth canonicalising.
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

/// Returns the username as given; letters a–z (any case), digits, `_`, `.`, `-`.
pub fn username(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let len = name.chars().count();
    if !USERNAME_LEN.contains(&len) {
        return Err(AppError::bad_input(
            "username",
            format!(
                "Username must be {} to {} characters long.",
                USERNAME_LEN.start(),
                USERNAME_LEN.end()
            ),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(AppError::bad_input(
            "username",
            "Username may contain only letters a–z, digits, and _ . -",
        ));
    }
    if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::bad_input(
            "username",
            "Username must contain a letter or a digit.",
        ));
    }
    Ok(name.to_owned())
}

/// Returns the address as given. It must be one the mailer can deliver to (lettre's own parser
/// decides) and have a single spelling: quoted or escaped local parts, and characters that NFKC
/// changes (a Kelvin sign for a `K`), would let many strings name one mailbox.
pub fn email(raw: &str) -> AppResult<String> {
    let email = raw.trim();
    let invalid = || AppError::bad_input("email", "That does not look like an e-mail address.");
    if email.is_empty() {
        return Err(AppError::bad_input("email", "E-mail address is required."));
    }
    if email.len() > EMAIL_MAX_LEN {
        return Err(invalid());
    }
    if email.contains(['"', '\\']) {
        return Err(AppError::bad_input(
            "email",
            "Quoted or escaped e-mail addresses are not accepted.",
        ));
    }
    if !is_nfkc(email) {
        return Err(AppError::bad_input(
            "email",
            "The e-mail address contains look-alike or compatibility characters; type it with \
             ordinary letters.",
        ));
    }
    let address: lettre::Address = email.parse().map_err(|_| invalid())?;
    // A domain without a dot (user@localhost) or an IP literal is valid syntax but not an
    // address anyone signs up with.
    let domain = address.domain();
    if !domain.contains('.') || domain.starts_with('[') {
        return Err(invalid());
    }
    Ok(email.to_owned())
}

/// All the password rules; the costly part runs on the CPU threads.
pub async fn password(field: &'static str, password: &str, username: &str) -> AppResult<()> {
    password_rules(field, password, username)?;
    password_strength(field, password, username).await
}

/// Length, and not containing the username: cheap.
pub fn password_rules(field: &'static str, password: &str, username: &str) -> AppResult<()> {
    let len = password.chars().count();
    if !PASSWORD_LEN.contains(&len) {
        return Err(AppError::bad_input(
            field,
            format!(
                "Password must be {} to {} characters long.",
                PASSWORD_LEN.start(),
                PASSWORD_LEN.end()
            ),
        ));
    }
    let username = username.trim().to_lowercase();
    if !username.is_empty() && password.to_lowercase().contains(&username) {
        return Err(AppError::bad_input(
            field,
            "Password must not contain your username.",
        ));
    }
    Ok(())
}

/// zxcvbn strength of at least 3 ("safely unguessable"), with zxcvbn's own advice in the
/// message. Costly, so it runs on the CPU threads, and sees the first
/// [`STRENGTH_MAX_CHARS`] characters only.
pub async fn password_strength(
    field: &'static str,
    password: &str,
    username: &str,
) -> AppResult<()> {
    let head: String = password.chars().take(STRENGTH_MAX_CHARS).collect();
    let username = username.to_owned();
    let advice = cpu::run(move || weakness(&head, &username)).await?;
    match advice {
        Some(message) => Err(AppError::bad_input(field, message)),
        None => Ok(()),
    }
}

/// `None` when the password is strong enough, else what to tell the user.
fn weakness(password: &str, username: &str) -> Option<String> {
    let strength = zxcvbn::zxcvbn(password, &[username]);
    if (strength.score() as u8) >= MIN_STRENGTH {
        return None;
    }
    let mut message = String::from("Password is too easy to guess.");
    if let Some(feedback) = strength.feedback() {
        if let Some(warning) = feedback.warning() {
            message.push_str(&format!(" {warning}."));
        }
        for suggestion in feedback.suggestions() {
            message.push_str(&format!(" {suggestion}"));
        }
    }
    if !message.contains("words") {
        message.push_str(" A few uncommon words together make a strong password.");
    }
    Some(message.replace("..", "."))
}

/// zxcvbn's scale is 0–4; 3 means about 10^10 guesses.
const MIN_STRENGTH: u8 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username(" ada.l-ovelace_1 ").unwrap(), "ada.l-ovelace_1");
        for bad in [
            "ab",
            &"a".repeat(31),
            "ada lovelace",
            "ada@x",
            "아다아다",
            "._-",
        ] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for good in [
            "ada@example.com",
            "Ada.Lovelace+quiz@Example.com",
            "ada@bücher.de",
        ] {
            assert_eq!(email(good).unwrap(), good);
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
            let err = email(bad).unwrap_err();
            assert!(
                matches!(err, AppError::BadUserInput(ref e) if e.field == "email"),
                "{bad}"
            );
        }
    }

    #[test]
    fn lookup_keys() {
        assert_eq!(login_key(" AIice "), login_key("alice"));
        assert_eq!(login_key("Ada@Example.com"), "ada@example.com");
        assert_eq!(email_key(&"a".repeat(300)), "a".repeat(300));
    }

    #[tokio::test]
    async fn passwords() {
        let check = |p: &str| {
            let p = p.to_owned();
            async move { password("password", &p, "ada").await }
        };
        assert!(check("violet otter cements the harbor").await.is_ok());
        let weak = check("password123").await.unwrap_err();
        assert!(matches!(weak, AppError::BadUserInput(ref e) if e.message.contains("too easy")));
        assert!(check("short").await.is_err());
        assert!(check("xxADAxxxxxxx").await.is_err());
        assert!(check("aaaaaaaaaaaa").await.is_err());
        assert!(check(&"x".repeat(129)).await.is_err());
        // Only the head is rated: weak there is weak, whatever follows.
        let padded = format!(
            "{}{}",
            "a".repeat(STRENGTH_MAX_CHARS),
            "violet otter cements"
        );
        assert!(check(&padded).await.is_err());
    }
}
