//! Password rules (usernames and addresses are parsed in [`crate::domain::identity`]). Each
//! failure names the field it is about. [`password_rules`] is cheap, so it runs before any rate
//! limit is spent; [`password_strength`] is not.

use crate::{
    cpu,
    domain::{AppError, AppResult, Message, MessageKey},
};

pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 10..=128;
/// zxcvbn sees only this many characters: its cost grows fast with length (a 128-character run
/// of l33t symbols takes seconds in a debug build, about 0.5 s optimised), and the first 64
/// characters tell enough about strength.
const STRENGTH_MAX_CHARS: usize = 64;

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
            Message::new(MessageKey::PasswordLength)
                .with("min", *PASSWORD_LEN.start())
                .with("max", *PASSWORD_LEN.end()),
        ));
    }
    let username = username.trim().to_lowercase();
    if !username.is_empty() && password.to_lowercase().contains(&username) {
        return Err(AppError::bad_input(
            field,
            MessageKey::PasswordContainsUsername,
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
        Some(advice) => Err(AppError::bad_input(
            field,
            Message::new(MessageKey::PasswordTooWeak).with("advice", advice),
        )),
        None => Ok(()),
    }
}

/// `None` when the password is strong enough, else zxcvbn's advice (in English, each sentence
/// after a space) to follow "too easy to guess".
fn weakness(password: &str, username: &str) -> Option<String> {
    let strength = zxcvbn::zxcvbn(password, &[username]);
    if (strength.score() as u8) >= MIN_STRENGTH {
        return None;
    }
    let mut message = String::new();
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

    #[tokio::test]
    async fn passwords() {
        let check = |p: &str| {
            let p = p.to_owned();
            async move { password("password", &p, "ada").await }
        };
        assert!(check("violet otter cements the harbor").await.is_ok());
        let weak = check("password123").await.unwrap_err();
        let AppError::BadUserInput(e) = weak else {
            panic!("{weak:?}")
        };
        let english = crate::i18n::render(crate::domain::Locale::En, &e.message);
        assert!(
            english.starts_with("Password is too easy to guess. "),
            "{english}"
        );
        assert!(english.contains("words"), "{english}");
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
