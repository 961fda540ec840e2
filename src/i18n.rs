//! Renders [`Message`]s in a [`Locale`] with Project Fluent. The catalogues under `locales/` are
//! compiled into the binary, so a deployment cannot lose one.

use std::sync::LazyLock;

use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};
use strum::IntoEnumIterator;

use crate::domain::{Locale, Message, MessageArg, MessageKey};

/// The catalogue of each locale, as shipped.
fn source(locale: Locale) -> &'static str {
    match locale {
        Locale::En => include_str!("../locales/en/main.ftl"),
        Locale::Ko => include_str!("../locales/ko/main.ftl"),
    }
}

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<Vec<(Locale, Bundle)>> = LazyLock::new(|| {
    Locale::iter()
        .map(|locale| {
            let resource =
                FluentResource::try_new(source(locale).to_owned()).unwrap_or_else(|(_, errors)| {
                    panic!(
                        "locales/{}/main.ftl does not parse: {errors:?}",
                        locale.as_str()
                    )
                });
            let tag = locale
                .as_str()
                .parse()
                .expect("a locale tag is valid BCP 47");
            let mut bundle = Bundle::new_concurrent(vec![tag]);
            // No Unicode isolation marks around quoted values: texts go to e-mails, JSON and
            // plain pages, where the marks would only be noise.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .unwrap_or_else(|errors| panic!("duplicate keys: {errors:?}"));
            (locale, bundle)
        })
        .collect()
});

fn bundle(locale: Locale) -> &'static Bundle {
    let (_, bundle) = BUNDLES
        .iter()
        .find(|(l, _)| *l == locale)
        .expect("every locale has a bundle");
    bundle
}

/// The message in `locale`. A message a catalogue lacks (a test rules that out) falls back to
/// English, and then to its key, rather than failing the request.
pub fn render(locale: Locale, message: &Message) -> String {
    let mut args = FluentArgs::new();
    for (name, value) in &message.args {
        match value {
            MessageArg::Text(text) => args.set(*name, FluentValue::from(text.as_str())),
            MessageArg::Number(n) => args.set(*name, FluentValue::from(*n)),
        }
    }
    let key = message.key.as_str();
    for locale in [locale, Locale::En] {
        let bundle = bundle(locale);
        if let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
            if !errors.is_empty() {
                tracing::warn!(
                    key,
                    locale = locale.as_str(),
                    ?errors,
                    "a message did not render cleanly"
                );
            }
            return text.into_owned();
        }
    }
    tracing::warn!(key, "a message is in no catalogue");
    key.to_owned()
}

/// A message that quotes nothing.
pub fn text(locale: Locale, key: MessageKey) -> String {
    render(locale, &Message::new(key))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn catalogue_keys(locale: Locale) -> BTreeSet<String> {
        let resource = FluentResource::try_new(source(locale).to_owned()).expect("parses");
        resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_locale_has_every_key_the_code_uses_and_no_other() {
        let used: BTreeSet<String> = MessageKey::iter().map(|k| k.as_str().to_owned()).collect();
        for locale in Locale::iter() {
            let keys = catalogue_keys(locale);
            let missing: Vec<_> = used.difference(&keys).collect();
            let unknown: Vec<_> = keys.difference(&used).collect();
            assert!(
                missing.is_empty(),
                "locales/{}/main.ftl lacks {missing:?}",
                locale.as_str()
            );
            assert!(
                unknown.is_empty(),
                "locales/{}/main.ftl has keys no code uses: {unknown:?}",
                locale.as_str()
            );
        }
    }

    #[test]
    fn renders_arguments_without_isolation_marks() {
        let message = Message::from("plain");
        assert_eq!(render(Locale::Ko, &message), "plain");
        assert_eq!(render(Locale::En, &message), "plain");
    }
}
