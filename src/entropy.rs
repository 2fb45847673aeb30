//! How many bits of entropy a secret probably has, as an attacker who knows
//! how people make "random" strings would count them.
//!
//! Each character costs `log2` of the alphabet the secret is drawn from (hex,
//! base64, or the character classes it uses), except where it follows a
//! pattern: the third and later characters of a run or sequence (`aaa`,
//! `123`, `fed`) cost 1 bit, a stretch repeated from earlier costs a
//! pointer to it, a second use of the same separator costs 1 bit, and a
//! word-like run of letters costs at most what a word from a 10,000-word
//! list would (13.3 bits), a digit next to another digit at most 3.3 bits
//! (numbers are years and counters). Random keys lose little to these rules;
//! `0123456789abcdef0123456789abcdef` (128 bits over its alphabet) scores
//! 33 and `my-company-jwt-secret-key-for-prod-2026` scores 114.

/// What one word of a large dictionary is worth: `log2(10_000)`.
const WORD_BITS: f64 = 13.3;
/// The shortest repeat of an earlier stretch that is counted as a repeat.
const MIN_REPEAT: usize = 3;

/// Only this many characters are read: enough for any key, and it keeps the
/// quadratic repeat search cheap on a pasted novel.
const MAX_CHARS: usize = 256;

/// The estimated entropy of `secret`, in bits.
pub fn estimate_bits(secret: &str) -> f64 {
    let chars: Vec<char> = secret.chars().take(MAX_CHARS).collect();
    let per_char = alphabet_size(&chars).log2();
    let mut bits = 0.0;
    let mut seen_separators: Vec<char> = Vec::new();
    // The run of letters being read, and what its letters cost one by one.
    let mut word = Vec::new();
    let mut word_bits = 0.0;
    let end_word = |word: &mut Vec<char>, word_bits: &mut f64| {
        let cost = if is_word_like(word) {
            word_bits.min(WORD_BITS)
        } else {
            *word_bits
        };
        word.clear();
        *word_bits = 0.0;
        cost
    };
    let mut i = 0;
    while i < chars.len() {
        if let Some(len) = longest_repeat(&chars, i) {
            bits += end_word(&mut word, &mut word_bits) + (i as f64).log2() + 1.0;
            i += len;
            continue;
        }
        let c = chars[i];
        if c.is_alphabetic() {
            word.push(c);
            word_bits += char_cost(&chars, i, per_char);
        } else {
            bits += end_word(&mut word, &mut word_bits);
            let in_number = |j: usize| chars.get(j).is_some_and(char::is_ascii_digit);
            bits += if c.is_ascii_digit() && (in_number(i + 1) || i > 0 && in_number(i - 1)) {
                // Numbers are mostly years, dates and counters.
                char_cost(&chars, i, per_char).min(10f64.log2())
            } else if c.is_alphanumeric() {
                char_cost(&chars, i, per_char)
            } else if seen_separators.contains(&c) {
                1.0
            } else {
                seen_separators.push(c);
                per_char
            };
        }
        i += 1;
    }
    bits + end_word(&mut word, &mut word_bits)
}

/// The size of the alphabet `chars` looks drawn from.
fn alphabet_size(chars: &[char]) -> f64 {
    let all = |f: fn(&char) -> bool| chars.iter().all(f);
    if all(|c| c.is_ascii_digit() || ('a'..='f').contains(c))
        || all(|c| c.is_ascii_digit() || ('A'..='F').contains(c))
    {
        return 16.0;
    }
    let any = |f: fn(&char) -> bool| chars.iter().any(f);
    if all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_'))
        && any(char::is_ascii_uppercase)
        && any(char::is_ascii_lowercase)
    {
        return 64.0;
    }
    let mut size = 0.0;
    if any(char::is_ascii_lowercase) {
        size += 26.0;
    }
    if any(char::is_ascii_uppercase) {
        size += 26.0;
    }
    if any(char::is_ascii_digit) {
        size += 10.0;
    }
    if any(|c| !c.is_ascii_alphanumeric()) {
        size += 33.0;
    }
    f64::max(size, 2.0)
}

/// The cost of the character at `i`: 1 bit as the third of a run or of a
/// sequence, the alphabet's bits otherwise.
fn char_cost(chars: &[char], i: usize, per_char: f64) -> f64 {
    if i >= 2 {
        let step = |a: char, b: char| i64::from(u32::from(b)) - i64::from(u32::from(a));
        let (d1, d2) = (
            step(chars[i - 2], chars[i - 1]),
            step(chars[i - 1], chars[i]),
        );
        if d1 == d2 && d1.abs() <= 1 {
            return 1.0;
        }
    }
    per_char
}

/// Letters shaped like a word or an abbreviation: all lower case (or
/// capitalised), with a vowel or at most three letters.
fn is_word_like(run: &[char]) -> bool {
    let tail_lower = run.iter().skip(1).all(|c| c.is_lowercase());
    let has_vowel = run
        .iter()
        .any(|c| matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u' | 'y'));
    tail_lower && run.len() >= 2 && (has_vowel || run.len() <= 3)
}

/// The length of the longest stretch at `i` that already occurred before
/// `i`, if it is at least [`MIN_REPEAT`] long.
fn longest_repeat(chars: &[char], i: usize) -> Option<usize> {
    (0..i)
        .map(|start| {
            chars[start..]
                .iter()
                .zip(&chars[i..])
                .take_while(|(a, b)| a == b)
                .count()
        })
        .max()
        .filter(|&len| len >= MIN_REPEAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secrets_of_the_issue_score_below_128_bits() {
        for weak in [
            "0123456789abcdef0123456789abcdef",
            "my-company-jwt-secret-key-for-prod-2026",
            "dev-only-insecure-secret-change-me-0123456789",
            &"a".repeat(64),
            &"abc".repeat(20),
            "correct-horse-battery-staple-correct-horse-battery",
            "Password1Password1Password1Password1",
        ] {
            let bits = estimate_bits(weak);
            assert!(bits < 128.0, "{weak}: {bits:.0} bits");
        }
    }

    #[test]
    fn random_keys_keep_their_entropy() {
        // `openssl rand -hex 32` (256 bits) and `openssl rand -base64 48` (384).
        let hex = "3f9a0c2e7b14d85f6a0e9c3b72d1f48a5e6c0b9d2f7a13e8c4b60d5f9a2e71c3";
        let b64 =
            "q0Gm3yT7PpX1v9Lw4cHnZ2Rk8sUe6Jd5Ab0Yf3Vt7Ni2Ox9Mh4Wl1Sg8Kr6Cu5Dz0Eq7Ia2Bj3Fy1Hp9Qx";
        assert!(estimate_bits(hex) > 200.0, "{}", estimate_bits(hex));
        assert!(estimate_bits(b64) > 300.0, "{}", estimate_bits(b64));
        let b64_32 = "u5Yp0m3Qz/8rJk1Wc+Xe7Lb2Nd4Tf6Gh9Ai0Ov3Sy5=";
        assert!(estimate_bits(b64_32) > 200.0, "{}", estimate_bits(b64_32));
    }

    #[test]
    fn words_cost_a_dictionary_entry_and_repeats_a_pointer() {
        let pointer = 6f64.log2() + 1.0;
        assert!((estimate_bits("secretsecret") - (WORD_BITS + pointer)).abs() < 1e-9);
        assert!((estimate_bits("abcdefgh") - WORD_BITS).abs() < 1e-9);
        assert!(estimate_bits(&"x".repeat(100_000)) < 20.0);
    }
}
