//! Language rules the generator needs without a dictionary: which scripts pack
//! more into a word, English possessives, Korean particle stripping, and the
//! stop words (`stopwords.txt`) that make poor blanks.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use unicode_segmentation::UnicodeSegmentation;

/// One word a line, lowercase; `#` starts a comment line.
static STOP_WORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("stopwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// True for function words ("the", "있다"); `key` is a case-folded stem.
pub(super) fn is_stop_word(key: &str) -> bool {
    STOP_WORDS.contains(key.replace('’', "'").as_str())
}

/// Hangul, CJK, kana, Thai and neighbours: scripts where a word, or a run
/// without spaces, carries more than a Latin-script word.
pub(super) fn is_dense_char(c: char) -> bool {
    matches!(u32::from(c),
        0x0E00..=0x0EFF       // Thai, Lao
        | 0x1000..=0x109F     // Myanmar
        | 0x1100..=0x11FF     // Hangul Jamo
        | 0x1780..=0x17FF     // Khmer
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3130..=0x318F     // Hangul compatibility Jamo
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7A3     // Hangul syllables
        | 0xF900..=0xFAFF) // CJK compatibility ideographs
}

/// The part of `word` that a term is made of, and whether it is known to be a noun.
pub(super) fn word_stem<'w>(word: &'w str, korean_stems: &HashSet<String>) -> (&'w str, bool) {
    let word = strip_possessive(word);
    match strip_korean_particle(word, korean_stems) {
        Some(stem) => (stem, true),
        None => (word, false),
    }
}

/// "Armstrong's" -> "Armstrong", so the possessive stays in the question.
fn strip_possessive(word: &str) -> &str {
    ["'s", "’s", "'S", "’S"]
        .iter()
        .find_map(|suffix| word.strip_suffix(suffix).filter(|s| !s.is_empty()))
        .unwrap_or(word)
}

pub(super) fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// Which final sound a Korean particle needs on the preceding syllable
/// (은/을/이 after a consonant, 는/를/가 after a vowel). Checking it avoids
/// cutting nouns that merely end in a particle-like syllable ("나이", "국가").
#[derive(Clone, Copy)]
enum After {
    Any,
    Consonant,
    Vowel,
    VowelOrRieul,
}

impl After {
    fn allows(self, prev: char) -> bool {
        if !is_hangul_syllable(prev) {
            // "NASA는": no Hangul final sound to check.
            return true;
        }
        let final_consonant = (u32::from(prev) - 0xAC00) % 28;
        match self {
            After::Any => true,
            After::Consonant => final_consonant != 0,
            After::Vowel => final_consonant == 0,
            After::VowelOrRieul => final_consonant == 0 || final_consonant == 8,
        }
    }
}

/// Common Korean particles (and the copula 이다), longest first so "에서는"
/// wins over "는".
const KOREAN_PARTICLES: &[(&str, After)] = &[
    ("에서는", After::Any),
    ("으로는", After::Consonant),
    ("에서", After::Any),
    ("에게", After::Any),
    ("에는", After::Any),
    ("으로", After::Consonant),
    ("부터", After::Any),
    ("까지", After::Any),
    ("처럼", After::Any),
    ("보다", After::Any),
    ("이다", After::Any),
    ("은", After::Consonant),
    ("는", After::Vowel),
    ("이", After::Consonant),
    ("가", After::Vowel),
    ("을", After::Consonant),
    ("를", After::Vowel),
    ("과", After::Consonant),
    ("와", After::Vowel),
    ("로", After::VowelOrRieul),
    ("의", After::Any),
    ("에", After::Any),
    ("도", After::Any),
    ("만", After::Any),
];

/// Splits a Hangul-final word into (stem, particle) by form alone: the
/// longest particle whose final-sound rule fits and that leaves at least two
/// characters.
fn split_particle(word: &str) -> Option<(&str, &'static str)> {
    if !word.chars().last().is_some_and(is_hangul_syllable) {
        return None;
    }
    KOREAN_PARTICLES.iter().find_map(|&(particle, after)| {
        let stem = word.strip_suffix(particle)?;
        let prev = stem.chars().last()?;
        (stem.chars().count() >= 2 && prev.is_alphabetic() && after.allows(prev))
            .then_some((stem, particle))
    })
}

/// The word without each particle it could end in, longest particle first (for "서울에서":
/// "서울에", "서울"), whatever is left of it: for a typed answer held against an accepted one,
/// where the stem must match exactly, not for guessing a noun from text.
pub fn particle_stems(word: &str) -> impl Iterator<Item = &str> {
    KOREAN_PARTICLES
        .iter()
        .filter_map(move |&(particle, after)| {
            let stem = word.strip_suffix(particle)?;
            let prev = stem.chars().last()?;
            after.allows(prev).then_some(stem)
        })
}

/// Particles that are also common last syllables of nouns (아폴로, 한반도,
/// 고양이, 회의) or of verb forms (사용하는, 사용되는).
fn is_ambiguous_particle(particle: &str, stem: &str) -> bool {
    matches!(particle, "이" | "가" | "의" | "로" | "도" | "만" | "이다")
        || (particle == "는" && stem.ends_with(['하', '되']))
}

/// First pass over the text: stems it confirms as nouns. A stem is confirmed
/// when seen before an unambiguous particle ("서울은"), or in at least two
/// different forms ("한라산이", "한라산의", or bare "한라산"). Without a
/// dictionary this is what keeps "아폴로" from being cut to "아폴".
pub(super) fn confirmed_korean_stems(sentences: &[String]) -> HashSet<String> {
    let words: HashSet<&str> = sentences.iter().flat_map(|s| s.unicode_words()).collect();
    let mut confirmed = HashSet::new();
    let mut ambiguous_forms: HashMap<&str, HashSet<&str>> = HashMap::new();
    for &word in &words {
        if let Some((stem, particle)) = split_particle(word) {
            if is_ambiguous_particle(particle, stem) {
                ambiguous_forms.entry(stem).or_default().insert(word);
            } else {
                confirmed.insert(stem.to_owned());
            }
        }
    }
    for (stem, forms) in ambiguous_forms {
        if forms.len() + usize::from(words.contains(stem)) >= 2 {
            confirmed.insert(stem.to_owned());
        }
    }
    confirmed
}

/// Strips a trailing particle if the text confirms the stem, and never from
/// a word that is itself a confirmed stem ("고양이" stays whole when
/// "고양이가" also occurs).
fn strip_korean_particle<'w>(word: &'w str, confirmed: &HashSet<String>) -> Option<&'w str> {
    if confirmed.contains(word) {
        return None;
    }
    let (stem, _) = split_particle(word)?;
    confirmed.contains(stem).then_some(stem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quiz::offline::fixtures::KOREAN;
    use crate::quiz::offline::sentences::split_sentences;

    #[test]
    fn korean_particles_strip() {
        let stems = confirmed_korean_stems(&split_sentences(KOREAN));
        assert_eq!(word_stem("서울은", &stems), ("서울", true));
        assert_eq!(word_stem("서울을", &stems), ("서울", true));
        assert_eq!(word_stem("서울의", &stems), ("서울", true));
        assert_eq!(word_stem("대한민국에서", &stems), ("대한민국", true));
        assert_eq!(word_stem("왕궁으로", &stems), ("왕궁", true));
        assert_eq!(word_stem("제주도에는", &stems), ("제주도", true));
        // Two ambiguous forms confirm each other.
        assert_eq!(word_stem("한라산이", &stems), ("한라산", true));
        // Final-sound rules keep nouns that only look like noun + particle.
        assert_eq!(split_particle("나이"), None);
        assert_eq!(split_particle("국가"), None);

        // Ambiguous endings are kept unless the text confirms the stem.
        let text = [
            "아폴로 계획은 달 탐사였다.",
            "한반도 지도를 보았다.",
            "문제를 해결하는 방법",
        ];
        let stems = confirmed_korean_stems(&text.map(String::from));
        assert_eq!(word_stem("아폴로", &stems), ("아폴로", false));
        assert_eq!(word_stem("한반도", &stems), ("한반도", false));
        assert_eq!(word_stem("해결하는", &stems), ("해결하는", false));
        assert_eq!(word_stem("계획은", &stems), ("계획", true));
        // A confirmed stem is never cut further.
        let stems = confirmed_korean_stems(&["고양이가 잔다. 고양이 두 마리.".to_string()]);
        assert_eq!(word_stem("고양이", &stems), ("고양이", false));
        assert_eq!(word_stem("고양이가", &stems), ("고양이", true));
    }

    #[test]
    fn possessives_strip() {
        let none = HashSet::new();
        assert_eq!(word_stem("Armstrong's", &none), ("Armstrong", false));
        assert_eq!(word_stem("Armstrong’s", &none), ("Armstrong", false));
        assert_eq!(word_stem("'s", &none), ("'s", false));
    }

    #[test]
    fn stop_word_file_parses_to_lowercase_words() {
        let listed: Vec<&str> = include_str!("stopwords.txt")
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .collect();
        assert!(listed.len() > 200, "{}", listed.len());
        for word in &listed {
            assert_eq!(*word, word.trim(), "stray whitespace around {word:?}");
            assert_eq!(*word, word.to_lowercase(), "{word:?} is not lowercase");
            assert!(!word.contains(' '), "{word:?} is not one word");
        }
        assert_eq!(STOP_WORDS.len(), listed.len(), "duplicate stop words");
        for word in ["a", "the", "yourself", "don't", "있다", "했다"] {
            assert!(is_stop_word(word), "{word}");
        }
        // Typographic apostrophes match the ASCII spelling in the file.
        assert!(is_stop_word("don’t"));
        assert!(!is_stop_word("armstrong"));
        assert!(!is_stop_word("# english"));
    }
}
