//! The made-up text of bios and posts, generated up front from the seed (so
//! that posts can be streamed on several connections and still get the
//! same text for the same seed).

use std::io::Write as _;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Texts stored back to back.
#[derive(Debug, Default)]
pub struct TextList {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl TextList {
    /// The `i`-th text.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.bytes);
        self.ends.push(self.bytes.len());
    }
}

/// The bios (of every other account: the even indexes, in order) and the
/// texts of the posts.
#[derive(Debug, Default)]
pub struct Texts {
    pub bios: TextList,
    pub posts: TextList,
}

/// Every text for `users` accounts and `posts` posts: one random stream,
/// bios first.
pub fn generate(seed: u64, users: u32, posts: u32) -> Texts {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x7465_7874);
    let mut texts = Texts::default();
    texts.posts.bytes.reserve(posts as usize * 160);
    texts.posts.ends.reserve(posts as usize);
    for _ in (0..users).step_by(2) {
        texts.bios.push(|out| bio(&mut rng, out));
    }
    for _ in 0..posts {
        texts.posts.push(|out| post_text(&mut rng, users, out));
    }
    texts
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "and",
    "of",
    "to",
    "in",
    "is",
    "it",
    "that",
    "for",
    "on",
    "with",
    "this",
    "my",
    "just",
    "so",
    "today",
    "tomorrow",
    "yesterday",
    "really",
    "never",
    "always",
    "maybe",
    "finally",
    "again",
    "still",
    "coffee",
    "code",
    "rust",
    "postgres",
    "deploy",
    "bug",
    "release",
    "weekend",
    "music",
    "book",
    "movie",
    "train",
    "city",
    "rain",
    "sun",
    "garden",
    "cat",
    "dog",
    "pizza",
    "tea",
    "bike",
    "run",
    "team",
    "idea",
    "meeting",
    "question",
    "answer",
    "thread",
    "photo",
    "trip",
    "beach",
    "mountain",
    "night",
    "morning",
    "love",
    "hate",
    "think",
    "know",
    "want",
    "need",
    "try",
    "build",
    "ship",
    "read",
    "write",
    "learn",
    "fix",
    "break",
    "watch",
    "listen",
    "cook",
    "sleep",
    "wait",
    "start",
    "finish",
    "share",
    "follow",
    "great",
    "terrible",
    "new",
    "old",
    "small",
    "big",
    "fast",
    "slow",
    "quiet",
    "loud",
    "happy",
    "tired",
    "strange",
    "simple",
    "hard",
    "easy",
    "first",
    "last",
    "best",
    "worst",
    "honestly",
    "literally",
];
const TAGS: &[&str] = &[
    "#rustlang",
    "#postgres",
    "#til",
    "#music",
    "#books",
    "#weekend",
    "#food",
    "#travel",
];

/// Appends a post of 3 to 40 words (at most 280 characters), sometimes with
/// a mention of `user1`…`user{users}` or a hashtag.
fn post_text(rng: &mut SmallRng, users: u32, out: &mut Vec<u8>) {
    let start = out.len();
    let words = rng.random_range(3..=40);
    for i in 0..words {
        if i > 0 {
            out.push(b' ');
        }
        let before = out.len();
        match rng.random_range(0..40) {
            0 => {
                let _ = write!(out, "@user{}", rng.random_range(1..=users));
            }
            1 => out.extend_from_slice(TAGS[rng.random_range(0..TAGS.len())].as_bytes()),
            _ => out.extend_from_slice(WORDS[rng.random_range(0..WORDS.len())].as_bytes()),
        }
        if out.len() - start > 279 {
            out.truncate(before.saturating_sub(1).max(start + 1));
            break;
        }
    }
    if let Some(first) = out.get_mut(start) {
        first.make_ascii_uppercase();
    }
}

/// Appends a short bio.
fn bio(rng: &mut SmallRng, out: &mut Vec<u8>) {
    out.extend_from_slice(b"Demo account. Into");
    for _ in 0..rng.random_range(1..=4) {
        out.push(b' ');
        out.extend_from_slice(WORDS[rng.random_range(26..WORDS.len())].as_bytes());
    }
    out.push(b'.');
}
