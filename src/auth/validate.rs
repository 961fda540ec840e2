//! Password rules (usernames and addresses are parsed in [`crate::domain::identity`]) and where
//! a sign-in link may return to. Each failure names the field it is about. [`password_rules`]
//! is cheap, so it runs before any rate limit is spent; [`password_strength`] is not.

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

/// The longest `returnTo` kept.
const RETURN_TO_MAX: usize = 2048;

/// Where a sign-in link's page may go once signed in: an address on `public_url`'s origin, read
/// as a browser reads it (a path such as `/quizzes` is taken relative to that origin; `//host`,
/// backslashes and other schemes are judged after resolving), so a link can never send anyone
/// to another site. `None` when not given; `BAD_USER_INPUT` on `returnTo` otherwise.
pub fn return_to(public_url: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let base = url::Url::parse(public_url).map_err(AppError::internal)?;
    let refused = || {
        AppError::bad_input(
            "returnTo",
            Message::new(MessageKey::ReturnToElsewhere)
                .with("origin", base.origin().ascii_serialization()),
        )
    };
    if raw.len() > RETURN_TO_MAX {
        return Err(refused());
    }
    let target = base.join(raw).map_err(|_| refused())?;
    let same_site = target.origin() == base.origin()
        && target.username().is_empty()
        && target.password().is_none();
    if !same_site {
        return Err(refused());
    }
    Ok(Some(target.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_the_public_origin() {
        let base = "https://quiz.example.com/app";
        let ok = |raw: &str| return_to(base, Some(raw)).unwrap().unwrap();
        assert_eq!(
            ok("/quizzes?x=1#top"),
            "https://quiz.example.com/quizzes?x=1#top"
        );
        assert_eq!(
            ok("https://QUIZ.example.com:443/a"),
            "https://quiz.example.com/a"
        );
        assert_eq!(ok("review"), "https://quiz.example.com/review");
        assert_eq!(return_to(base, None).unwrap(), None);
        assert_eq!(return_to(base, Some("  ")).unwrap(), None);
        for elsewhere in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example/x",
            "\\/evil.example",
            "/\t/evil.example",
            "http://quiz.example.com/",
            "https://quiz.example.com:8443/",
            "https://quiz.example.com.evil.example/",
            "https://user:pw@quiz.example.com/",
            "https://quiz.example.com@evil.example/",
            "javascript:alert(1)",
            "data:text/html,hi",
        ] {
            let err = return_to(base, Some(elsewhere)).unwrap_err();
            let AppError::BadUserInput(e) = err else {
                panic!("{elsewhere}: {err:?}")
            };
            assert_eq!(e.field, "returnTo", "{elsewhere}");
        }
        assert!(return_to(base, Some(&format!("/{}", "a".repeat(RETURN_TO_MAX)))).is_err());
    }

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
