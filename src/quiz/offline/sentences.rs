//! Cutting study text into sentences, and sentences into the word tokens that
//! might be key terms (numbers, and word stems without possessives or Korean
//! particles).

use std::collections::HashSet;
use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use super::language::{is_dense_char, word_stem};

/// Shorter sentences give too little context to guess the blank from.
const MIN_WORDS: usize = 4;
/// Hangul/CJK/Thai characters carry more per word, so count characters instead.
const MIN_DENSE_CHARS: usize = 8;
/// Longer "sentences" are usually run-on lists or unpunctuated dumps; unreadable as a question.
const MAX_SENTENCE_CHARS: usize = 400;

/// Line breaks always end a sentence: study notes often have headings and
/// bullet points without final punctuation.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Splits text into whitespace-normalised, de-duplicated sentences (UAX #29
/// sentence bounds within each line, re-joined after abbreviations such as
/// "Neil A. Armstrong" or "Dr. Smith", which UAX #29 splits).
#[cfg(test)]
pub(super) fn split_sentences(text: &str) -> Vec<String> {
    sentence_spans(text).into_iter().map(|(_, s)| s).collect()
}

/// Like `split_sentences`, each with the byte range of `text` it was cut from (without bullet
/// markers and surrounding whitespace), so that a question can name its passage.
pub(super) fn sentence_spans(text: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut line_start = 0;
    for piece in text.split_inclusive(is_line_break) {
        let line = piece.strip_suffix(is_line_break).unwrap_or(piece);
        let mut pending = line_start..line_start;
        for (at, piece) in line.split_sentence_bound_indices() {
            pending.end = line_start + at + piece.len();
            if !ends_with_abbreviation(text[pending.clone()].trim_end()) {
                push_sentence(&mut out, &mut seen, text, pending.clone());
                pending.start = pending.end;
            }
        }
        push_sentence(&mut out, &mut seen, text, pending);
        line_start += piece.len();
    }
    out
}

/// Bullet markers at the start of note lines are not part of the sentence.
fn is_bullet(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '*' | '+' | '>' | '#' | '•' | '·' | '‣' | '◦' | '–' | '—'
        )
}

fn push_sentence(
    out: &mut Vec<(Range<usize>, String)>,
    seen: &mut HashSet<String>,
    text: &str,
    span: Range<usize>,
) {
    let raw = &text[span.clone()];
    let body = raw.trim_start_matches(is_bullet);
    let start = span.start + (raw.len() - body.len());
    let span = start..start + body.trim_end().len();
    let normalized = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if !normalized.is_empty() && seen.insert(normalized.clone()) {
        out.push((span, normalized));
    }
}

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "gen", "col", "lt", "capt", "sgt",
];

/// True when `piece` ends in "X." (initial), "U.S." / "e.g." or a title like "Dr.".
fn ends_with_abbreviation(piece: &str) -> bool {
    let Some(body) = piece.strip_suffix('.') else {
        return false;
    };
    let last = body.rsplit(char::is_whitespace).next().unwrap_or_default();
    let last = last.trim_start_matches(|c: char| !c.is_alphanumeric());
    let parts: Vec<&str> = last.split('.').collect();
    let single_letters = parts.iter().all(|p| {
        let mut cs = p.chars();
        matches!((cs.next(), cs.next()), (Some(c), None) if c.is_alphabetic())
    });
    if single_letters {
        // A lone lowercase letter ("... vitamin c.") more likely ends a sentence.
        return parts.len() > 1 || last.chars().all(char::is_uppercase);
    }
    ABBREVIATIONS.contains(&last.to_lowercase().as_str())
}

/// One word occurrence that might be a key term.
#[derive(Debug)]
pub(super) struct Token {
    /// Byte range of the stem inside the sentence: particles and "'s" stay outside,
    /// so blanking "서울은" gives "_____은" and the answer is "서울".
    pub(super) range: Range<usize>,
    /// Case-folded stem; identifies the term.
    pub(super) key: String,
    pub(super) is_number: bool,
    /// First word of the sentence, where capitalisation says nothing about proper nouns.
    pub(super) initial: bool,
    pub(super) capitalized: bool,
    pub(super) lowercase: bool,
    /// A Korean particle was stripped, so the stem is a noun.
    pub(super) noun_hint: bool,
}

#[derive(Debug)]
pub(super) struct Sentence {
    pub(super) text: String,
    pub(super) tokens: Vec<Token>,
    /// Good for a question (not too short or long); unusable sentences still
    /// contribute terms and statistics.
    pub(super) usable: bool,
}

pub(super) fn analyze_sentence(text: String, korean_stems: &HashSet<String>) -> Sentence {
    let mut tokens = Vec::new();
    let mut words = 0;
    for (i, (start, word)) in text.unicode_word_indices().enumerate() {
        words += 1;
        if let Some(token) = make_token(start, word, i == 0, korean_stems) {
            tokens.push(token);
        }
    }
    let chars = text.chars().count();
    let dense = text.chars().filter(|&c| is_dense_char(c)).count();
    let usable = chars <= MAX_SENTENCE_CHARS && (words >= MIN_WORDS || dense >= MIN_DENSE_CHARS);
    Sentence {
        text,
        tokens,
        usable,
    }
}

fn make_token(
    start: usize,
    word: &str,
    initial: bool,
    korean_stems: &HashSet<String>,
) -> Option<Token> {
    if word.chars().any(char::is_numeric) {
        let len = number_prefix_len(word)?;
        return Some(Token {
            range: start..start + len,
            key: word[..len].to_string(),
            is_number: true,
            initial,
            capitalized: false,
            lowercase: false,
            noun_hint: false,
        });
    }
    let (stem, noun_hint) = word_stem(word, korean_stems);
    let first = stem.chars().next()?;
    Some(Token {
        range: start..start + stem.len(),
        key: stem.to_lowercase(),
        is_number: false,
        initial,
        capitalized: first.is_uppercase(),
        lowercase: first.is_lowercase(),
        noun_hint,
    })
}

/// Byte length of the number that starts `word` ("1969", "3.14", "1,000",
/// "1395" of "1395년", "20" of "20th"); `None` if `word` does not start with a
/// digit or has more digits after the number ("A7L", "1.2a3").
pub(super) fn number_prefix_len(word: &str) -> Option<usize> {
    let mut end = 0;
    for (i, c) in word.char_indices() {
        if c.is_numeric() {
            end = i + c.len_utf8();
        } else if !(matches!(c, '.' | ',') && end == i && end > 0) {
            break;
        }
    }
    (end > 0 && !word[end..].chars().any(char::is_numeric)).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quiz::offline::fixtures::APOLLO;

    #[test]
    fn english_sentences_split_and_abbreviations_join() {
        let s = split_sentences(APOLLO);
        assert_eq!(s.len(), 14, "{s:#?}");
        assert!(s[2].starts_with("The crew consisted of Neil A. Armstrong"));
        assert_eq!(
            split_sentences(
                "Dr. Smith met the U.S. Army. They talked.\n- Heading\n\n  • Pi is 3.14 today."
            ),
            [
                "Dr. Smith met the U.S. Army.",
                "They talked.",
                "Heading",
                "Pi is 3.14 today."
            ]
        );
    }

    #[test]
    fn sentences_know_where_they_stand_in_the_text() {
        let text = "# Notes\n  - Neil A. Armstrong  walked first.\u{2028}Aldrin   followed. \r\n";
        let spans: Vec<_> = sentence_spans(text)
            .into_iter()
            .map(|(span, sentence)| (&text[span], sentence))
            .collect();
        assert_eq!(
            spans,
            [
                ("Notes", "Notes".to_string()),
                (
                    "Neil A. Armstrong  walked first.",
                    "Neil A. Armstrong walked first.".to_string()
                ),
                ("Aldrin   followed.", "Aldrin followed.".to_string()),
            ]
        );
    }

    #[test]
    fn korean_sentences_split() {
        let sentences = split_sentences("서울은 대한민국의 수도이다. 한강은 서울을 가로지른다.");
        assert_eq!(
            sentences,
            ["서울은 대한민국의 수도이다.", "한강은 서울을 가로지른다."]
        );
    }

    #[test]
    fn tokens_keep_particles_and_possessives_outside_the_stem() {
        let text = "서울은 대한민국의 수도이다.".to_string();
        let stems = HashSet::from(["서울".to_string()]);
        let sentence = analyze_sentence(text, &stems);
        let seoul = &sentence.tokens[0];
        assert_eq!(&sentence.text[seoul.range.clone()], "서울");
        assert!(seoul.noun_hint && seoul.initial);

        let sentence = analyze_sentence("We saw Armstrong's boots in 1969.".to_string(), &stems);
        let keys: Vec<&str> = sentence.tokens.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["we", "saw", "armstrong", "boots", "in", "1969"]);
        assert!(sentence.tokens[2].capitalized && !sentence.tokens[2].initial);
        assert!(sentence.tokens[5].is_number);
        assert!(sentence.usable);
        assert!(!analyze_sentence("Too short.".to_string(), &stems).usable);
    }

    #[test]
    fn numbers_are_extracted() {
        assert_eq!(number_prefix_len("1969"), Some(4));
        assert_eq!(number_prefix_len("3.14"), Some(4));
        assert_eq!(number_prefix_len("1,000"), Some(5));
        assert_eq!(number_prefix_len("1395년"), Some(4));
        assert_eq!(number_prefix_len("20th"), Some(2));
        assert_eq!(number_prefix_len("A7L"), None);
        assert_eq!(number_prefix_len("1a2"), None);
        assert_eq!(number_prefix_len("word"), None);
    }
}
