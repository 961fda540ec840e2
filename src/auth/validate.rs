//! Input rules for accounts. Each failure names the field it is about.

use crate::error::{AppError, AppResult};

pub const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=30;
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 10..=128;
const EMAIL_MAX_LEN: usize = 254;

/// Lower-casing is the normalization both stores index, so `Ada` and `ada` collide.
pub fn normalize(value: &str) -> String {
    value.trim().to_lowercase()
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
    Ok(name.to_owned())
}

pub fn email(raw: &str) -> AppResult<String> {
    let email = raw.trim();
    if email.is_empty() {
        return Err(AppError::bad_input("email", "E-mail address is required."));
    }
    if email.len() > EMAIL_MAX_LEN || !email_address::EmailAddress::is_valid(email) {
        return Err(AppError::bad_input(
            "email",
            "That does not look like an e-mail address.",
        ));
    }
    // A domain without a dot (user@localhost) is valid syntax but undeliverable here.
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    if !domain.contains('.') || domain.starts_with('[') {
        return Err(AppError::bad_input(
            "email",
            "That does not look like an e-mail address.",
        ));
    }
    Ok(email.to_owned())
}

/// Length rules, not containing the username, and zxcvbn strength of at least 3 ("safely
/// unguessable"), with zxcvbn's own advice in the message.
pub fn password(field: &'static str, password: &str, username: &str) -> AppResult<()> {
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
    if !username.is_empty() && password.to_lowercase().contains(&normalize(username)) {
        return Err(AppError::bad_input(
            field,
            "Password must not contain your username.",
        ));
    }
    let strength = zxcvbn::zxcvbn(password, &[username]);
    if (strength.score() as u8) < MIN_STRENGTH {
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
        return Err(AppError::bad_input(field, message.replace("..", ".")));
    }
    Ok(())
}

/// zxcvbn's scale is 0–4; 3 means about 10^10 guesses.
const MIN_STRENGTH: u8 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username(" ada.l-ovelace_1 ").unwrap(), "ada.l-ovelace_1");
        for bad in ["ab", &"a".repeat(31), "ada lovelace", "ada@x", "아다아다"] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(email("ada@example.com").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(password("password", "violet otter cements the harbor", "ada").is_ok());
        let weak = password("password", "password123", "ada").unwrap_err();
        assert!(matches!(weak, AppError::BadUserInput(ref e) if e.message.contains("too easy")));
        assert!(password("password", "short", "ada").is_err());
        assert!(password("password", "xxADAxxxxxxx", "ada").is_err());
        assert!(password("password", "aaaaaaaaaaaa", "ada").is_err());
        assert!(password("password", &"x".repeat(129), "ada").is_err());
    }
}
