//! Offline multiple-choice quiz generation from a user's own study text.
//!
//! Used when no LLM is configured. Questions are cloze ("fill in the blank")
//! items cut from the text's own sentences, so every correct answer is a
//! verbatim piece of the text and nothing has to be invented. Distractors are
//! other key terms of the same text, preferably of the same kind (a year for a
//! year, a name for a name). Everything is deterministic for a given input and
//! seed, which keeps retries and tests reproducible.
//!
//! Works for any language that unicode-segmentation can split into words;
//! English gets a stop-word list and proper-noun detection, Korean gets
//! particle stripping ("서울은" -> "서울"). Scripts written without spaces
//! (Chinese, Japanese kana) yield few terms beyond numbers and Latin names.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

pub use crate::store::Difficulty;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineRequest<'a> {
    pub topic: &'a str,
    pub source_text: &'a str,
    pub question_count: usize,
    pub choice_count: usize,
    pub difficulty: Difficulty,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedChoice {
    pub content: String,
    pub correct: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedQuestion {
    pub content: String,
    pub choices: Vec<GeneratedChoice>,
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineError {
    /// The text supports only `possible` distinct questions with the
    /// requested number of choices (0 when it supports none).
    NotEnoughMaterial { possible: usize, requested: usize },
}

impl fmt::Display for OfflineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OfflineError::NotEnoughMaterial {
                possible: 0,
                requested,
            } => write!(
                f,
                "the study text yields no usable questions with the requested number of choices \
                 ({requested} requested); add more text or ask for fewer choices"
            ),
            OfflineError::NotEnoughMaterial {
                possible,
                requested,
            } => write!(
                f,
                "the study text yields at most {possible} distinct questions with the requested \
                 number of choices ({requested} requested); ask for {possible} or fewer, or add more text"
            ),
        }
    }
}

impl std::error::Error for OfflineError {}

/// Replaces the answer in the question; fixed width so it does not hint at the answer's length.
const BLANK: &str = "_____";
/// Shorter sentences give too little context to guess the blank from.
const MIN_WORDS: usize = 4;
/// Hangul/CJK/Thai characters carry more per word, so count characters instead.
const MIN_DENSE_CHARS: usize = 8;
/// Longer "sentences" are usually run-on lists or unpunctuated dumps; unreadable as a question.
const MAX_SENTENCE_CHARS: usize = 400;
/// Longer "words" are junk (URLs, hashes, keyboard mashing), not study terms.
const MAX_TERM_CHARS: usize = 40;
/// A non-repeated word this long is still likely to be a meaningful content word.
const LONG_WORD_CHARS: usize = 7;

/// Generates `question_count` fill-in-the-blank questions from `source_text`.
///
/// Fails with [`OfflineError::NotEnoughMaterial`] (carrying how many questions
/// *are* possible with `choice_count` choices) instead of returning fewer or
/// weaker questions than asked for.
pub fn generate(req: &OfflineRequest<'_>) -> Result<Vec<GeneratedQuestion>, OfflineError> {
    let stop_words: HashSet<&str> = STOP_WORDS.iter().copied().collect();
    let raw_sentences = split_sentences(req.source_text);
    let korean_stems = confirmed_korean_stems(&raw_sentences);
    let sentences: Vec<Sentence> = raw_sentences
        .into_iter()
        .map(|text| analyze_sentence(text, &korean_stems))
        .collect();
    let terms = TermTable::build(&sentences, &stop_words);
    let candidates = find_candidates(&sentences, &terms);

    // Every candidate can draw its distractors from all other terms, so the
    // only global limit on choices is the number of distinct terms.
    let possible = if terms.list.len() >= req.choice_count {
        candidates.len()
    } else {
        0
    };
    if possible < req.question_count {
        return Err(OfflineError::NotEnoughMaterial {
            possible,
            requested: req.question_count,
        });
    }

    let mut rng = SplitMix64::new(req.seed);
    let topic = topic_keys(req.topic, &korean_stems);
    let picked = select_candidates(&candidates, &terms, req, &topic, sentences.len(), &mut rng);
    Ok(picked
        .into_iter()
        .map(|c| {
            build_question(
                &sentences[c.sentence],
                c,
                &terms,
                req.choice_count,
                &mut rng,
            )
        })
        .collect())
}

// ---------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------

/// splitmix64: tiny, well-mixed, and stable across platforms and releases,
/// which a general-purpose RNG crate does not promise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift, so no modulo bias worth caring about); 0 when n is 0.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------
// Sentences
// ---------------------------------------------------------------------------

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
fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for line in text.split(is_line_break) {
        let mut pending = String::new();
        for piece in line.split_sentence_bounds() {
            pending.push_str(piece);
            if !ends_with_abbreviation(pending.trim_end()) {
                push_sentence(&mut out, &mut seen, &pending);
                pending.clear();
            }
        }
        push_sentence(&mut out, &mut seen, &pending);
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

fn push_sentence(out: &mut Vec<String>, seen: &mut HashSet<String>, raw: &str) {
    let raw = raw.trim_start_matches(is_bullet);
    let normalized = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if !normalized.is_empty() && seen.insert(normalized.clone()) {
        out.push(normalized);
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

/// Hangul, CJK, kana, Thai and neighbours: scripts where a word, or a run
/// without spaces, carries more than a Latin-script word.
fn is_dense_char(c: char) -> bool {
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

/// One word occurrence that might be a key term.
#[derive(Debug)]
struct Token {
    /// Byte range of the stem inside the sentence: particles and "'s" stay outside,
    /// so blanking "서울은" gives "_____은" and the answer is "서울".
    range: Range<usize>,
    /// Case-folded stem; identifies the term.
    key: String,
    is_number: bool,
    /// First word of the sentence, where capitalisation says nothing about proper nouns.
    initial: bool,
    capitalized: bool,
    lowercase: bool,
    /// A Korean particle was stripped, so the stem is a noun.
    noun_hint: bool,
}

#[derive(Debug)]
struct Sentence {
    text: String,
    tokens: Vec<Token>,
    /// Good for a question (not too short or long); unusable sentences still
    /// contribute terms and statistics.
    usable: bool,
}

fn analyze_sentence(text: String, korean_stems: &HashSet<String>) -> Sentence {
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
fn number_prefix_len(word: &str) -> Option<usize> {
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

/// The part of `word` that a term is made of, and whether it is known to be a noun.
fn word_stem<'w>(word: &'w str, korean_stems: &HashSet<String>) -> (&'w str, bool) {
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

fn is_hangul_syllable(c: char) -> bool {
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
fn confirmed_korean_stems(sentences: &[String]) -> HashSet<String> {
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

// ---------------------------------------------------------------------------
// Key terms
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TermKind {
    Number,
    ProperNoun,
    Word,
}

#[derive(Debug)]
struct Term {
    key: String,
    /// Spelling used when the term is a distractor (its usual mid-sentence form).
    display: String,
    kind: TermKind,
    /// Occurrences in the whole text.
    count: usize,
}

/// Per-key counts gathered over the whole text before deciding what is a term.
#[derive(Default)]
struct TermStats {
    key: String,
    is_number: bool,
    count: usize,
    cap_initial: usize,
    cap_inner: usize,
    lower: usize,
    noun_hint: bool,
    /// (spelling, mid-sentence count, total count), in order of first appearance.
    spellings: Vec<(String, usize, usize)>,
}

struct TermTable {
    /// In order of first appearance, so iteration is deterministic.
    list: Vec<Term>,
    index: HashMap<String, usize>,
}

impl TermTable {
    fn build(sentences: &[Sentence], stop_words: &HashSet<&str>) -> Self {
        let mut stats: Vec<TermStats> = Vec::new();
        let mut by_key: HashMap<&str, usize> = HashMap::new();
        for sentence in sentences {
            for token in &sentence.tokens {
                let i = *by_key.entry(token.key.as_str()).or_insert_with(|| {
                    stats.push(TermStats {
                        key: token.key.clone(),
                        ..TermStats::default()
                    });
                    stats.len() - 1
                });
                let s = &mut stats[i];
                s.count += 1;
                s.is_number |= token.is_number;
                s.noun_hint |= token.noun_hint;
                match (token.capitalized, token.initial) {
                    (true, true) => s.cap_initial += 1,
                    (true, false) => s.cap_inner += 1,
                    _ => s.lower += usize::from(token.lowercase),
                }
                let spelling = &sentence.text[token.range.clone()];
                let inner = usize::from(!token.initial);
                match s.spellings.iter_mut().find(|(sp, _, _)| sp == spelling) {
                    Some(entry) => {
                        entry.1 += inner;
                        entry.2 += 1;
                    }
                    None => s.spellings.push((spelling.to_owned(), inner, 1)),
                }
            }
        }

        let mut list = Vec::new();
        let mut index = HashMap::new();
        for s in stats {
            let Some(kind) = classify(&s, stop_words) else {
                continue;
            };
            // Prefer the spelling seen mid-sentence most often, then the earliest.
            let display = s
                .spellings
                .iter()
                .enumerate()
                .max_by_key(|&(pos, &(_, inner, total))| (inner, total, std::cmp::Reverse(pos)))
                .map(|(_, (sp, _, _))| sp.clone())
                .unwrap_or_else(|| s.key.clone());
            index.insert(s.key.clone(), list.len());
            list.push(Term {
                key: s.key,
                display,
                kind,
                count: s.count,
            });
        }
        TermTable { list, index }
    }

    fn get(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }
}

/// Decides whether a key is a quiz term and of which kind; `None` for
/// stop words, junk and unremarkable one-off words.
fn classify(s: &TermStats, stop_words: &HashSet<&str>) -> Option<TermKind> {
    let chars = s.key.chars().count();
    if chars > MAX_TERM_CHARS {
        return None;
    }
    if s.is_number {
        return Some(TermKind::Number);
    }
    if stop_words.contains(s.key.replace('’', "'").as_str()) {
        return None;
    }
    // Capitalised mid-sentence (at least as often as lowercase), or
    // capitalised at the start of several sentences and never lowercase.
    let proper = chars >= 2
        && s.cap_inner >= s.lower
        && (s.cap_inner >= 1 || (s.cap_initial >= 2 && s.lower == 0));
    if proper {
        return Some(TermKind::ProperNoun);
    }
    let dense = s.key.chars().any(is_dense_char);
    if chars < if dense { 2 } else { 3 } {
        return None;
    }
    let long = !dense && chars >= LONG_WORD_CHARS;
    (s.count >= 2 || s.noun_hint || long).then_some(TermKind::Word)
}

/// Keys of the topic's words: terms named in the quiz title are too easy to blank.
fn topic_keys(topic: &str, korean_stems: &HashSet<String>) -> HashSet<String> {
    topic
        .unicode_words()
        .map(|w| word_stem(w, korean_stems).0.to_lowercase())
        .collect()
}

// ---------------------------------------------------------------------------
// Question selection
// ---------------------------------------------------------------------------

/// A possible question: blank out every occurrence of `term` in `sentence`
/// (all of them, so a second occurrence does not give the answer away).
#[derive(Debug, Clone, Copy)]
struct Candidate {
    sentence: usize,
    term: usize,
    /// Index of the term's first token in the sentence; its spelling is the answer.
    token: usize,
}

fn find_candidates(sentences: &[Sentence], terms: &TermTable) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (si, sentence) in sentences.iter().enumerate() {
        if !sentence.usable {
            continue;
        }
        let mut seen = Vec::new();
        for (ti, token) in sentence.tokens.iter().enumerate() {
            if let Some(term) = terms.get(&token.key)
                && !seen.contains(&term)
            {
                seen.push(term);
                out.push(Candidate {
                    sentence: si,
                    term,
                    token: ti,
                });
            }
        }
    }
    out
}

/// Higher is preferred. Easy favours names and numbers that recur; Hard
/// favours ordinary words that occur rarely. The jitter lets the seed vary
/// the selection among similar candidates.
fn candidate_score(
    term: &Term,
    difficulty: Difficulty,
    topic: &HashSet<String>,
    jitter: f64,
) -> f64 {
    let (number, proper, word, per_log_count) = match difficulty {
        Difficulty::Easy => (3.0, 3.0, 1.0, 0.5),
        Difficulty::Medium => (2.0, 2.0, 1.5, 0.0),
        Difficulty::Hard => (1.0, 1.5, 3.0, -0.5),
    };
    let base = match term.kind {
        TermKind::Number => number,
        TermKind::ProperNoun => proper,
        TermKind::Word => word,
    };
    let frequency = per_log_count * (term.count as f64).ln();
    let topic_penalty = if topic.contains(&term.key) { 2.0 } else { 0.0 };
    base + frequency - topic_penalty + jitter
}

/// Greedy pick: spread questions over as many sentences as possible, then
/// over as many different answers as possible, then by score. Returned in
/// text order so the quiz follows the study text.
fn select_candidates(
    candidates: &[Candidate],
    terms: &TermTable,
    req: &OfflineRequest<'_>,
    topic: &HashSet<String>,
    sentence_count: usize,
    rng: &mut SplitMix64,
) -> Vec<Candidate> {
    let scores: Vec<f64> = candidates
        .iter()
        .map(|c| candidate_score(&terms.list[c.term], req.difficulty, topic, rng.unit()))
        .collect();
    let mut taken = vec![false; candidates.len()];
    let mut sentence_uses = vec![0usize; sentence_count];
    let mut term_uses = vec![0usize; terms.list.len()];
    let mut picked = Vec::with_capacity(req.question_count);
    for _ in 0..req.question_count {
        let best = (0..candidates.len())
            .filter(|&i| !taken[i])
            .min_by(|&a, &b| {
                let (ca, cb) = (candidates[a], candidates[b]);
                sentence_uses[ca.sentence]
                    .cmp(&sentence_uses[cb.sentence])
                    .then(term_uses[ca.term].cmp(&term_uses[cb.term]))
                    .then(scores[b].total_cmp(&scores[a]))
                    .then(a.cmp(&b))
            });
        let Some(i) = best else { break };
        taken[i] = true;
        sentence_uses[candidates[i].sentence] += 1;
        term_uses[candidates[i].term] += 1;
        picked.push(candidates[i]);
    }
    picked.sort_by_key(|c| (c.sentence, c.token));
    picked
}

// ---------------------------------------------------------------------------
// Building a question
// ---------------------------------------------------------------------------

/// Coarse form of a term, so distractors look like the answer: a year for a
/// year, a Korean stem that takes the same particle form (은 vs 는), an
/// English word with the same ending.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Number(String),
    Hangul { final_consonant: bool },
    Suffix(&'static str),
    Other,
}

fn shape(term: &str) -> Shape {
    if term.starts_with(|c: char| c.is_numeric()) {
        return Shape::Number(
            term.chars()
                .map(|c| if c.is_numeric() { '9' } else { c })
                .collect(),
        );
    }
    if let Some(last) = term.chars().last().filter(|&c| is_hangul_syllable(c)) {
        return Shape::Hangul {
            final_consonant: (u32::from(last) - 0xAC00) % 28 != 0,
        };
    }
    let lower = term.to_lowercase();
    let suffix = ["ing", "ed", "ly", "s"]
        .into_iter()
        .find(|s| lower.ends_with(s) && lower.chars().count() >= 4);
    if let Some(suffix) = suffix {
        return Shape::Suffix(suffix);
    }
    Shape::Other
}

/// Gives an ordinary word distractor the answer's initial case, so a
/// capitalised sentence-initial answer does not stand out (and vice versa).
/// Keeps the original when the case change would not round-trip.
fn match_case(word: &str, answer: &str) -> String {
    let (Some(first), Some(answer_first)) = (word.chars().next(), answer.chars().next()) else {
        return word.to_owned();
    };
    let rest = &word[first.len_utf8()..];
    let changed: String = if answer_first.is_uppercase() {
        first.to_uppercase().chain(rest.chars()).collect()
    } else if answer_first.is_lowercase() {
        first.to_lowercase().chain(rest.chars()).collect()
    } else {
        return word.to_owned();
    };
    if changed.to_lowercase() == word.to_lowercase() {
        changed
    } else {
        word.to_owned()
    }
}

fn build_question(
    sentence: &Sentence,
    cand: Candidate,
    terms: &TermTable,
    choice_count: usize,
    rng: &mut SplitMix64,
) -> GeneratedQuestion {
    let answer_term = &terms.list[cand.term];
    let answer = &sentence.text[sentence.tokens[cand.token].range.clone()];

    // Blank every occurrence of the answer's term.
    let mut blanked = String::with_capacity(sentence.text.len());
    let mut last = 0;
    for token in sentence.tokens.iter().filter(|t| t.key == answer_term.key) {
        blanked.push_str(&sentence.text[last..token.range.start]);
        blanked.push_str(BLANK);
        last = token.range.end;
    }
    blanked.push_str(&sentence.text[last..]);

    // Distractor preference: same kind, not already visible in this sentence,
    // same shape, then seeded chance.
    let in_sentence: HashSet<&str> = sentence.tokens.iter().map(|t| t.key.as_str()).collect();
    let answer_shape = shape(answer);
    let mut pool: Vec<((bool, bool, bool), f64, usize)> = terms
        .list
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != cand.term)
        .map(|(i, t)| {
            let rank = (
                t.kind != answer_term.kind,
                in_sentence.contains(t.key.as_str()),
                shape(&t.display) != answer_shape,
            );
            (rank, rng.unit(), i)
        })
        .collect();
    pool.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));

    let mut seen: HashSet<String> = HashSet::from([answer.to_lowercase()]);
    let mut choices = vec![GeneratedChoice {
        content: answer.to_owned(),
        correct: true,
    }];
    for &(_, _, i) in &pool {
        if choices.len() >= choice_count {
            break;
        }
        let term = &terms.list[i];
        let content = if term.kind == TermKind::Word {
            match_case(&term.display, answer)
        } else {
            term.display.clone()
        };
        if seen.insert(content.to_lowercase()) {
            choices.push(GeneratedChoice {
                content,
                correct: false,
            });
        }
    }
    rng.shuffle(&mut choices);

    GeneratedQuestion {
        content: format!("Fill in the blank: \"{blanked}\""),
        choices,
        explanation: Some(format!("The text says: \"{}\"", sentence.text)),
    }
}

/// Function words that make poor blanks (lowercase; Korean entries are stems).
const STOP_WORDS: &[&str] = &[
    // English
    "a",
    "about",
    "above",
    "across",
    "after",
    "again",
    "against",
    "all",
    "almost",
    "along",
    "already",
    "also",
    "although",
    "always",
    "am",
    "among",
    "an",
    "and",
    "another",
    "any",
    "anyone",
    "anything",
    "are",
    "around",
    "as",
    "at",
    "back",
    "be",
    "became",
    "because",
    "become",
    "becomes",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "can't",
    "could",
    "did",
    "didn't",
    "do",
    "does",
    "doesn't",
    "doing",
    "don't",
    "done",
    "down",
    "during",
    "each",
    "either",
    "else",
    "enough",
    "even",
    "ever",
    "every",
    "everyone",
    "everything",
    "few",
    "first",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "isn't",
    "it",
    "its",
    "itself",
    "just",
    "last",
    "later",
    "less",
    "like",
    "made",
    "make",
    "makes",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "near",
    "neither",
    "never",
    "no",
    "nor",
    "not",
    "nothing",
    "now",
    "of",
    "off",
    "often",
    "on",
    "once",
    "one",
    "only",
    "onto",
    "or",
    "other",
    "others",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "per",
    "perhaps",
    "quite",
    "rather",
    "said",
    "same",
    "says",
    "several",
    "she",
    "should",
    "since",
    "so",
    "some",
    "someone",
    "something",
    "sometimes",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "therefore",
    "these",
    "they",
    "this",
    "those",
    "though",
    "through",
    "thus",
    "to",
    "today",
    "too",
    "toward",
    "towards",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "use",
    "used",
    "using",
    "very",
    "via",
    "was",
    "wasn't",
    "we",
    "well",
    "were",
    "weren't",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "won't",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    // Korean
    "가장",
    "같은",
    "그러나",
    "그래서",
    "그리고",
    "그런",
    "다른",
    "대해",
    "때문",
    "또한",
    "따라서",
    "많은",
    "매우",
    "모든",
    "번째",
    "않는다",
    "없는",
    "없다",
    "여러",
    "우리",
    "위해",
    "이런",
    "있는",
    "있다",
    "저런",
    "통해",
    "하지만",
    "한다",
    "했다",
];

#[cfg(test)]
mod tests {
    use super::*;

    const APOLLO: &str = "Apollo 11 was the first crewed mission to land on the Moon. \
It was launched by NASA from the Kennedy Space Center on July 16, 1969. \
The crew consisted of Neil A. Armstrong, Buzz Aldrin, and Michael Collins. \
Armstrong was the mission commander and the first person to walk on the Moon. \
Aldrin joined Armstrong on the lunar surface about 20 minutes later. \
Collins remained in lunar orbit aboard the command module Columbia. \
The lunar module was named Eagle, and it landed in the Sea of Tranquility. \
The landing took place on July 20, 1969, at 20:17 UTC. \
Armstrong and Aldrin spent about 21 hours on the lunar surface. \
They collected 21.5 kilograms of lunar material to bring back to Earth. \
The Saturn V rocket that launched the crew stood about 110 meters tall. \
The astronauts returned to Earth on July 24 and splashed down in the Pacific Ocean. \
President Richard Nixon spoke with the astronauts by telephone while they were on the Moon. \
About 650 million people watched Armstrong's first steps on television.";

    const KOREAN: &str = "서울은 대한민국의 수도이다. 한강은 서울을 가로지른다. \
서울의 인구는 약 940만 명이다. 부산은 대한민국에서 두 번째로 큰 도시이다. \
부산은 해운대 해수욕장으로 유명하다. 제주도는 한국에서 가장 큰 섬이다.
제주도에는 한라산이 있다. 한라산의 높이는 1947미터이다.
경복궁은 1395년에 조선의 왕궁으로 지어졌다. 세종대왕은 1443년에 한글을 창제하였다.";

    fn request(text: &str, questions: usize, choices: usize) -> OfflineRequest<'_> {
        OfflineRequest {
            topic: "Study notes",
            source_text: text,
            question_count: questions,
            choice_count: choices,
            difficulty: Difficulty::Medium,
            seed: 42,
        }
    }

    fn correct(q: &GeneratedQuestion) -> &str {
        &q.choices
            .iter()
            .find(|c| c.correct)
            .expect("a correct choice")
            .content
    }

    /// Checks every invariant the brief promises for a successful generation.
    fn assert_valid(req: &OfflineRequest<'_>, questions: &[GeneratedQuestion]) {
        assert_eq!(questions.len(), req.question_count);
        let mut contents = HashSet::new();
        for q in questions {
            assert!(
                contents.insert(q.content.clone()),
                "duplicate question: {}",
                q.content
            );
            assert!(
                q.content.starts_with("Fill in the blank: \""),
                "{}",
                q.content
            );
            assert!(q.content.contains(BLANK), "{}", q.content);
            assert_eq!(q.choices.len(), req.choice_count, "{q:?}");
            assert_eq!(q.choices.iter().filter(|c| c.correct).count(), 1, "{q:?}");

            let answer = correct(q);
            assert!(!answer.is_empty());
            assert!(
                req.source_text.contains(answer),
                "answer {answer:?} not in text"
            );

            let mut seen = HashSet::new();
            for c in &q.choices {
                assert!(!c.content.trim().is_empty(), "{q:?}");
                assert!(
                    seen.insert(c.content.to_lowercase()),
                    "duplicate choice in {q:?}"
                );
            }

            // Putting the answer back restores the quoted sentence.
            let explanation = q.explanation.as_deref().expect("explanation");
            let sentence = explanation
                .strip_prefix("The text says: \"")
                .and_then(|s| s.strip_suffix('"'))
                .expect("explanation format");
            let blanked = q
                .content
                .strip_prefix("Fill in the blank: \"")
                .and_then(|s| s.strip_suffix('"'))
                .unwrap();
            assert_eq!(
                blanked.replace(BLANK, answer).to_lowercase(),
                sentence.to_lowercase()
            );
        }
    }

    #[test]
    fn english_sample_is_valid_for_all_choice_counts_and_difficulties() {
        for choices in 2..=6 {
            for difficulty in [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard] {
                for count in [1, 5, 14, 20] {
                    let req = OfflineRequest {
                        difficulty,
                        ..request(APOLLO, count, choices)
                    };
                    let qs = generate(&req).unwrap_or_else(|e| panic!("{e}"));
                    assert_valid(&req, &qs);
                }
            }
        }
    }

    #[test]
    fn korean_sample_is_valid() {
        for choices in 2..=6 {
            for count in [1, 5, 10] {
                let req = request(KOREAN, count, choices);
                let qs = generate(&req).unwrap_or_else(|e| panic!("{e}"));
                assert_valid(&req, &qs);
            }
        }
    }

    #[test]
    fn korean_answers_are_stems_without_particles() {
        let req = request(KOREAN, 10, 4);
        let qs = generate(&req).unwrap();
        for q in &qs {
            let answer = correct(q);
            for particle in ["은", "는", "을", "를", "의", "에서"] {
                assert!(
                    !answer.ends_with(particle),
                    "{answer} keeps particle {particle}"
                );
            }
        }
        // One question per sentence (10 sentences, 10 questions).
        let explanations: HashSet<_> = qs.iter().map(|q| q.explanation.clone()).collect();
        assert_eq!(explanations.len(), 10);
    }

    #[test]
    fn korean_sentences_split_and_particles_strip() {
        let sentences = split_sentences("서울은 대한민국의 수도이다. 한강은 서울을 가로지른다.");
        assert_eq!(
            sentences,
            ["서울은 대한민국의 수도이다.", "한강은 서울을 가로지른다."]
        );

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

        // "서울" counts twice across the two sentences and becomes one term.
        let qs = generate(&request(
            "서울은 대한민국의 수도이다. 한강은 서울을 가로지른다.",
            1,
            2,
        ))
        .unwrap();
        assert!(qs.iter().all(|q| q.content.contains(BLANK)));
    }

    #[test]
    fn korean_blank_keeps_the_particle() {
        let req = request(KOREAN, 10, 3);
        let qs = generate(&req).unwrap();
        let seoul = qs
            .iter()
            .find(|q| correct(q) == "서울")
            .expect("a question about 서울");
        assert!(
            seoul.content.contains("_____은")
                || seoul.content.contains("_____을")
                || seoul.content.contains("_____의"),
            "{}",
            seoul.content
        );
    }

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
    fn terms_are_classified() {
        let raw = split_sentences(APOLLO);
        let sentences: Vec<Sentence> = raw
            .into_iter()
            .map(|t| analyze_sentence(t, &HashSet::new()))
            .collect();
        let stop: HashSet<&str> = STOP_WORDS.iter().copied().collect();
        let terms = TermTable::build(&sentences, &stop);
        let kind = |key: &str| terms.get(key).map(|i| terms.list[i].kind);
        assert_eq!(kind("1969"), Some(TermKind::Number));
        assert_eq!(kind("21.5"), Some(TermKind::Number));
        assert_eq!(kind("armstrong"), Some(TermKind::ProperNoun));
        assert_eq!(kind("collins"), Some(TermKind::ProperNoun));
        assert_eq!(kind("nasa"), Some(TermKind::ProperNoun));
        assert_eq!(kind("lunar"), Some(TermKind::Word));
        assert_eq!(kind("the"), None);
        assert_eq!(kind("about"), None);
        // Sentence-initial only, once: not enough evidence for a name.
        assert_eq!(kind("apollo"), None);
        assert_eq!(
            terms.list[terms.get("armstrong").unwrap()].display,
            "Armstrong"
        );
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

    #[test]
    fn deterministic_for_same_seed_and_varies_with_seed() {
        let req = request(APOLLO, 6, 4);
        assert_eq!(generate(&req).unwrap(), generate(&req).unwrap());
        let korean = request(KOREAN, 6, 4);
        assert_eq!(generate(&korean).unwrap(), generate(&korean).unwrap());

        let first = generate(&req).unwrap();
        let varied = (0..8)
            .map(|seed| {
                generate(&OfflineRequest {
                    seed,
                    ..req.clone()
                })
                .unwrap()
            })
            .any(|qs| qs != first);
        assert!(varied, "seed should change the quiz");
    }

    #[test]
    fn questions_prefer_different_sentences() {
        let req = request(APOLLO, 14, 4);
        let qs = generate(&req).unwrap();
        let explanations: HashSet<_> = qs.iter().map(|q| q.explanation.clone()).collect();
        assert_eq!(explanations.len(), 14);
    }

    #[test]
    fn number_answers_get_number_distractors() {
        let req = request(APOLLO, 20, 4);
        let mut numeric = 0;
        for seed in 0..10 {
            for q in generate(&OfflineRequest {
                seed,
                ..req.clone()
            })
            .unwrap()
            {
                if number_prefix_len(correct(&q)).is_some() {
                    numeric += 1;
                    for c in &q.choices {
                        assert!(number_prefix_len(&c.content).is_some(), "{q:?}");
                    }
                }
            }
        }
        assert!(numeric > 0);
    }

    #[test]
    fn easy_prefers_names_and_numbers_hard_prefers_words() {
        let named = |d: Difficulty| {
            (0..5)
                .flat_map(|seed| {
                    generate(&OfflineRequest {
                        difficulty: d,
                        seed,
                        ..request(APOLLO, 10, 4)
                    })
                    .unwrap()
                })
                .filter(|q| {
                    let a = correct(q);
                    a.starts_with(|c: char| c.is_uppercase() || c.is_numeric())
                })
                .count()
        };
        assert!(named(Difficulty::Easy) > named(Difficulty::Hard));
    }

    #[test]
    fn topic_terms_are_avoided_when_possible() {
        let qs = generate(&OfflineRequest {
            topic: "Armstrong",
            ..request(APOLLO, 5, 4)
        })
        .unwrap();
        assert!(qs.iter().all(|q| correct(q) != "Armstrong"));
    }

    #[test]
    fn not_enough_material_reports_what_is_possible() {
        // Terms: "capital" (repeated word), "France", "Germany" (names).
        // Candidates: capital+France in the first sentence, capital+Germany in the second.
        let text = "Paris is the capital of France. Berlin is the capital of Germany.";
        let err = generate(&request(text, 5, 3)).unwrap_err();
        assert_eq!(
            err,
            OfflineError::NotEnoughMaterial {
                possible: 4,
                requested: 5
            }
        );
        assert!(err.to_string().contains("at most 4"), "{err}");

        let req = request(text, 4, 3);
        assert_valid(&req, &generate(&req).unwrap());

        // Only three distinct terms: four choices are impossible.
        let err = generate(&request(text, 1, 4)).unwrap_err();
        assert_eq!(
            err,
            OfflineError::NotEnoughMaterial {
                possible: 0,
                requested: 1
            }
        );
        assert!(err.to_string().contains("no usable questions"), "{err}");
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let long_word = "a".repeat(100_000);
        let long_words = "Lorem ipsum dolor sit amet. ".repeat(5_000);
        let inputs = [
            "",
            "   \n\t  \r\n ",
            "🚀🌕✨ 🚀🌕 👩‍🚀👨‍🚀",
            "...!!!???",
            long_word.as_str(),
            "Short.",
            "東京は日本の首都です。大阪は日本の都市です。",
            long_words.as_str(),
        ];
        for text in inputs {
            for choices in [2, 4, 6] {
                match generate(&request(text, 3, choices)) {
                    Ok(qs) => assert_valid(&request(text, 3, choices), &qs),
                    Err(OfflineError::NotEnoughMaterial {
                        possible,
                        requested,
                    }) => {
                        assert_eq!(requested, 3);
                        assert!(possible < 3);
                    }
                }
            }
        }
        assert_eq!(
            generate(&request("", 1, 2)),
            Err(OfflineError::NotEnoughMaterial {
                possible: 0,
                requested: 1
            })
        );
    }

    #[test]
    fn exact_possible_count_can_be_requested() {
        for text in [APOLLO, KOREAN] {
            for choices in [2, 4, 6] {
                let possible = match generate(&request(text, 1000, choices)) {
                    Err(OfflineError::NotEnoughMaterial { possible, .. }) => possible,
                    Ok(_) => panic!("1000 questions should not fit"),
                };
                assert!(possible > 0);
                let req = request(text, possible, choices);
                assert_valid(&req, &generate(&req).unwrap());
            }
        }
    }

    #[test]
    fn rng_is_stable() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        // Reference value of splitmix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut r = SplitMix64::new(1);
        assert!((0..1000).all(|_| r.below(6) < 6));
        assert_eq!(r.below(0), 0);
    }
}
