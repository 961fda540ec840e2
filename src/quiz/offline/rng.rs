//! Deterministic randomness: the seed derived from what the user asked for, and
//! the generator it feeds. Both are fixed algorithms, so the same text and
//! settings give the same quiz on every platform and Rust release.

use sha2::{Digest, Sha256};

/// Seed for a quiz from its input: the first 8 bytes (little-endian) of the
/// SHA-256 of the topic and the source text, each preceded by its byte length,
/// then the question and choice counts, every number as a little-endian u64.
/// The length prefixes keep ("ab", "c") and ("a", "bc") apart. Unlike std's
/// `DefaultHasher`, SHA-256 is specified and never changes between releases.
pub fn content_seed(
    topic: &str,
    source_text: &str,
    question_count: usize,
    choice_count: usize,
) -> u64 {
    let mut hash = Sha256::new();
    for text in [topic, source_text] {
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    hash.update((question_count as u64).to_le_bytes());
    hash.update((choice_count as u64).to_le_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// splitmix64: tiny, well-mixed, and stable across platforms and releases,
/// which a general-purpose RNG crate does not promise.
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    pub(super) fn new(seed: u64) -> Self {
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
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn content_seed_is_sha256_of_the_framed_input() {
        // The preimage spelled out byte by byte, hashed independently of the framing code.
        let mut preimage = Vec::new();
        preimage.extend_from_slice(&2u64.to_le_bytes());
        preimage.extend_from_slice(b"ab");
        preimage.extend_from_slice(&1u64.to_le_bytes());
        preimage.extend_from_slice(b"c");
        preimage.extend_from_slice(&3u64.to_le_bytes());
        preimage.extend_from_slice(&4u64.to_le_bytes());
        let digest = Sha256::digest(&preimage);
        let expected = u64::from_le_bytes(digest[..8].try_into().unwrap());
        assert_eq!(content_seed("ab", "c", 3, 4), expected);

        // Every input matters, and the length prefixes keep the strings apart.
        let seed = content_seed("ab", "c", 3, 4);
        assert_ne!(seed, content_seed("a", "bc", 3, 4));
        assert_ne!(seed, content_seed("ab", "c", 4, 4));
        assert_ne!(seed, content_seed("ab", "c", 3, 5));
    }
}
