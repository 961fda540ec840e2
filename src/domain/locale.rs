//! The languages a person can read the service in, and how a request names one.

use std::str::FromStr;

use unic_langid::LanguageIdentifier;

/// A supported language. Stored as its tag ("en", "ko"); anything else reads as English.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumIter,
)]
#[strum(serialize_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Ko,
}

impl Locale {
    /// The tag as stored and shown ("en", "ko").
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A BCP 47 tag whose language is one we speak: "ko", "ko-KR", "KO-kr" and "ko-Kore-KR"
    /// are Korean, "en-GB" English; anything else (or no valid tag) is `None`.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let id = LanguageIdentifier::from_str(tag.trim()).ok()?;
        Locale::from_str(id.language.as_str()).ok()
    }

    /// The most preferred language of an `Accept-Language` header that we speak, by quality
    /// (`q=0` means "not this one"); `None` when it names none of ours.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        accept_language::parse_with_quality(header)
            .into_iter()
            .filter(|(_, quality)| *quality > 0.0)
            .find_map(|(tag, _)| Locale::from_tag(&tag))
    }

    /// What a request reads in: the person's own choice, else what the browser asks for,
    /// else English.
    pub fn resolve(preference: Option<Locale>, accept_language: Option<Locale>) -> Self {
        preference.or(accept_language).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(Locale::from_tag("ko"), Some(Locale::Ko));
        assert_eq!(Locale::from_tag("ko-KR"), Some(Locale::Ko));
        assert_eq!(Locale::from_tag("KO-kr"), Some(Locale::Ko));
        assert_eq!(Locale::from_tag("ko-Kore-KR"), Some(Locale::Ko));
        assert_eq!(Locale::from_tag("en-GB"), Some(Locale::En));
        assert_eq!(Locale::from_tag("ja"), None);
        assert_eq!(Locale::from_tag("korean"), None);
        assert_eq!(Locale::from_tag(""), None);
        assert_eq!(Locale::Ko.as_str(), "ko");
        assert_eq!(Locale::En.as_str(), "en");
    }

    #[test]
    fn accept_language_by_quality() {
        let pick = Locale::from_accept_language;
        assert_eq!(
            pick("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"),
            Some(Locale::Ko)
        );
        assert_eq!(pick("en-US,en;q=0.9,ko;q=0.8"), Some(Locale::En));
        assert_eq!(pick("en;q=0.5, ko-KR;q=0.9"), Some(Locale::Ko));
        assert_eq!(pick("fr-FR, ja;q=0.9, ko;q=0.1"), Some(Locale::Ko));
        assert_eq!(pick("ko;q=0, en;q=0.2"), Some(Locale::En));
        assert_eq!(pick("fr, de"), None);
        assert_eq!(pick(""), None);
        assert_eq!(pick("*"), None);
    }

    #[test]
    fn preference_then_header_then_english() {
        assert_eq!(
            Locale::resolve(Some(Locale::Ko), Some(Locale::En)),
            Locale::Ko
        );
        assert_eq!(Locale::resolve(None, Some(Locale::Ko)), Locale::Ko);
        assert_eq!(Locale::resolve(None, None), Locale::En);
    }
}
