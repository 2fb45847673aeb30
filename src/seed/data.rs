//! The demo data set, generated in memory from a seed (no database access).
//!
//! Shapes: followees are drawn Zipf-like from a popularity ranking, so a few
//! accounts have most of the followers; popular accounts also post more; a
//! third of the posts reply to an earlier post (half of those join the thread
//! of an earlier reply, which makes a few threads long); likes are Zipf-like over a ranking
//! of posts by their author's popularity and some luck. Accounts join during
//! the first tenth of the covered period and post during the rest; every
//! timestamp grows with its row's id, as keyset pagination expects.

use std::collections::HashSet;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// How far back the data reaches from its end time.
const SPAN_MICROS: i64 = 180 * 86_400 * 1_000_000;
/// Zipf exponents: of followee choice, of author choice, of like targets.
const FOLLOW_SKEW: f64 = 0.8;
const POSTING_SKEW: f64 = 0.5;
const LIKE_SKEW: f64 = 0.8;
/// Spread of the log-normal number of accounts one user follows.
const FOLLOWING_SIGMA: f64 = 1.2;
const REPLY_SHARE: f64 = 1.0 / 3.0;
/// Consecutive duplicate draws after which a skewed choice falls back to a uniform one.
const MAX_MISSES: u32 = 16;

/// One account; its id is its index + 1.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// Microseconds since the Unix epoch.
    pub created: i64,
    pub followers: u32,
    pub following: u32,
    pub posts: u32,
}

/// One post; its id is its index + 1.
#[derive(Debug, Clone)]
pub struct Post {
    /// Index of the author in [`Dataset::accounts`].
    pub author: u32,
    /// Index of the parent post, for a reply.
    pub parent: Option<u32>,
    pub date: i64,
    pub likes: u32,
    pub replies: u32,
}

/// A follow (follower → followee) or a like (user → post), by index.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    pub at: i64,
}

/// Everything the seed writes, with each row's counters already computed.
#[derive(Debug)]
pub struct Dataset {
    pub accounts: Vec<Account>,
    pub posts: Vec<Post>,
    /// Ordered by time, so ids follow time.
    pub follows: Vec<Edge>,
    /// Ordered by time, so ids follow time.
    pub likes: Vec<Edge>,
}

/// What to generate; the caller has checked that the numbers are feasible.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub users: u32,
    pub posts: u32,
    pub follows_per_user: u32,
    pub likes: u32,
    pub seed: u64,
    /// The newest timestamp, in microseconds since the Unix epoch.
    pub end: i64,
}

/// Generates the data set described by `shape`.
pub fn generate(shape: &Shape) -> Dataset {
    let mut rng = SmallRng::seed_from_u64(shape.seed);
    let start = shape.end - SPAN_MICROS;
    let posting_from = start + SPAN_MICROS / 10;
    let users = shape.users as usize;
    let mut accounts: Vec<Account> = (0..users)
        .map(|i| Account {
            created: spread(&mut rng, start, posting_from, i, users),
            ..Account::default()
        })
        .collect();
    let mut by_rank: Vec<u32> = (0..shape.users).collect();
    by_rank.shuffle(&mut rng);
    let follows = follow_edges(&mut rng, &mut accounts, &by_rank, shape);
    let mut posts = write_posts(&mut rng, &mut accounts, &by_rank, shape, posting_from);
    let likes = like_edges(&mut rng, &mut posts, &by_rank, shape);
    Dataset {
        accounts,
        posts,
        follows,
        likes,
    }
}

/// A time in the `i`-th of `n` equal slots of `[from, to)`: increasing with `i`.
fn spread(rng: &mut SmallRng, from: i64, to: i64, i: usize, n: usize) -> i64 {
    let slot = (i as f64 + rng.random::<f64>()) / n as f64;
    from + ((to - from) as f64 * slot) as i64
}

/// A time between `from` and `to`, `power` > 1 leaning toward `from`.
fn between(rng: &mut SmallRng, from: i64, to: i64, power: i32) -> i64 {
    from + ((to - from) as f64 * rng.random::<f64>().powi(power)) as i64
}

/// A standard normal variate (Box–Muller).
fn normal(rng: &mut SmallRng) -> f64 {
    let u = 1.0 - rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * rng.random::<f64>()).cos()
}

/// Ranks `0..n` drawn with probability proportional to `1 / (rank + 1)^s`.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|k| {
                total += (k as f64).powf(-s);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut SmallRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

/// Each user follows a log-normal number of accounts (mean `follows_per_user`),
/// chosen by popularity.
fn follow_edges(
    rng: &mut SmallRng,
    accounts: &mut [Account],
    by_rank: &[u32],
    shape: &Shape,
) -> Vec<Edge> {
    let users = accounts.len();
    if shape.follows_per_user == 0 || users < 2 {
        return Vec::new();
    }
    let zipf = Zipf::new(users, FOLLOW_SKEW);
    let mu = f64::from(shape.follows_per_user).ln() - FOLLOWING_SIGMA * FOLLOWING_SIGMA / 2.0;
    let mut edges = Vec::with_capacity(users * shape.follows_per_user as usize);
    let mut chosen = HashSet::new();
    for follower in 0..users {
        let wanted = ((mu + FOLLOWING_SIGMA * normal(rng)).exp().round() as usize).min(users - 1);
        chosen.clear();
        let mut misses = 0;
        while chosen.len() < wanted {
            let followee = if misses < MAX_MISSES {
                by_rank[zipf.sample(rng)] as usize
            } else {
                rng.random_range(0..users)
            };
            if followee == follower || !chosen.insert(followee) {
                misses += 1;
                continue;
            }
            misses = 0;
            let since = accounts[follower].created.max(accounts[followee].created);
            let end = shape.end;
            edges.push(Edge {
                from: follower as u32,
                to: followee as u32,
                at: between(rng, since, end, 1),
            });
            accounts[follower].following += 1;
            accounts[followee].followers += 1;
        }
    }
    edges.sort_unstable_by_key(|e| e.at);
    edges
}

/// Posts in time order; popular accounts post more, a third are replies.
fn write_posts(
    rng: &mut SmallRng,
    accounts: &mut [Account],
    by_rank: &[u32],
    shape: &Shape,
    from: i64,
) -> Vec<Post> {
    let count = shape.posts as usize;
    let zipf = Zipf::new(accounts.len(), POSTING_SKEW);
    let mut posts: Vec<Post> = Vec::with_capacity(count);
    let mut replies: Vec<u32> = Vec::new();
    for i in 0..count {
        let author = by_rank[zipf.sample(rng)];
        let parent =
            (i > 0 && rng.random_bool(REPLY_SHARE)).then(|| pick_parent(rng, &posts, &replies));
        if let Some(p) = parent {
            posts[p as usize].replies += 1;
            replies.push(i as u32);
        }
        accounts[author as usize].posts += 1;
        let date = spread(rng, from, shape.end, i, count);
        posts.push(Post {
            author,
            parent,
            date,
            likes: 0,
            replies: 0,
        });
    }
    posts
}

/// An earlier post to reply to: half the time the parent of a random earlier
/// reply (preferential attachment: busy threads get busier), otherwise a
/// post leaning recent.
fn pick_parent(rng: &mut SmallRng, earlier: &[Post], replies: &[u32]) -> u32 {
    if !replies.is_empty() && rng.random_bool(0.5) {
        let reply = replies[rng.random_range(0..replies.len())];
        if let Some(thread) = earlier[reply as usize].parent {
            return thread;
        }
    }
    let n = earlier.len();
    (n - 1 - (n as f64 * rng.random::<f64>().powi(5)) as usize) as u32
}

/// Likes by random users, skewed toward posts of popular authors; each
/// (user, post) pair at most once.
fn like_edges(rng: &mut SmallRng, posts: &mut [Post], by_rank: &[u32], shape: &Shape) -> Vec<Edge> {
    let wanted = shape.likes as usize;
    if wanted == 0 || posts.is_empty() {
        return Vec::new();
    }
    let mut rank_of = vec![0u32; by_rank.len()];
    for (rank, &user) in by_rank.iter().enumerate() {
        rank_of[user as usize] = rank as u32;
    }
    let mut appeal: Vec<(f64, u32)> = posts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let author = f64::from(rank_of[p.author as usize] + 1).powf(-FOLLOW_SKEW);
            let kind = if p.parent.is_some() { 0.3 } else { 1.0 };
            (author * kind * (0.8 * normal(rng)).exp(), i as u32)
        })
        .collect();
    appeal.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let zipf = Zipf::new(posts.len(), LIKE_SKEW);
    let users = shape.users as usize;
    let mut seen = HashSet::with_capacity(wanted);
    let mut edges = Vec::with_capacity(wanted);
    let mut misses = 0;
    while edges.len() < wanted {
        let user = rng.random_range(0..users) as u32;
        let post = if misses < MAX_MISSES {
            appeal[zipf.sample(rng)].1
        } else {
            rng.random_range(0..posts.len()) as u32
        };
        if !seen.insert((u64::from(user) << 32) | u64::from(post)) {
            misses += 1;
            continue;
        }
        misses = 0;
        let target = &mut posts[post as usize];
        target.likes += 1;
        edges.push(Edge {
            from: user,
            to: post,
            at: between(rng, target.date, shape.end, 3),
        });
    }
    edges.sort_unstable_by_key(|e| e.at);
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(users: u32, posts: u32, follows_per_user: u32, likes: u32) -> Shape {
        Shape {
            users,
            posts,
            follows_per_user,
            likes,
            seed: 7,
            end: 1_800_000_000_000_000,
        }
    }

    #[test]
    fn counters_match_the_rows() {
        let data = generate(&shape(200, 3_000, 10, 4_000));
        let mut posts = vec![0u32; 200];
        let mut followers = vec![0u32; 200];
        let mut following = vec![0u32; 200];
        let mut likes = vec![0u32; 3_000];
        let mut replies = vec![0u32; 3_000];
        for p in &data.posts {
            posts[p.author as usize] += 1;
            if let Some(parent) = p.parent {
                replies[parent as usize] += 1;
            }
        }
        for f in &data.follows {
            following[f.from as usize] += 1;
            followers[f.to as usize] += 1;
        }
        for l in &data.likes {
            likes[l.to as usize] += 1;
        }
        for (i, a) in data.accounts.iter().enumerate() {
            assert_eq!(
                (a.posts, a.followers, a.following),
                (posts[i], followers[i], following[i])
            );
        }
        for (i, p) in data.posts.iter().enumerate() {
            assert_eq!((p.likes, p.replies), (likes[i], replies[i]));
        }
        assert_eq!(data.likes.len(), 4_000);
    }

    #[test]
    fn times_grow_with_ids_and_replies_follow_their_parents() {
        let data = generate(&shape(100, 2_000, 5, 1_000));
        assert!(
            data.accounts
                .windows(2)
                .all(|w| w[0].created <= w[1].created)
        );
        assert!(data.posts.windows(2).all(|w| w[0].date <= w[1].date));
        assert!(data.follows.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(data.likes.windows(2).all(|w| w[0].at <= w[1].at));
        for (i, p) in data.posts.iter().enumerate() {
            assert!(p.parent.is_none_or(|parent| (parent as usize) < i));
            assert!(data.accounts[p.author as usize].created <= p.date);
        }
        for l in &data.likes {
            assert!(data.posts[l.to as usize].date <= l.at);
        }
    }

    #[test]
    fn no_self_follows_or_duplicate_pairs() {
        let data = generate(&shape(30, 100, 10, 1_000));
        let follows: HashSet<_> = data.follows.iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(follows.len(), data.follows.len());
        assert!(data.follows.iter().all(|e| e.from != e.to));
        let likes: HashSet<_> = data.likes.iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(likes.len(), data.likes.len());
    }

    #[test]
    fn followers_have_a_heavy_tail() {
        let data = generate(&shape(5_000, 1_000, 20, 0));
        let mut followers: Vec<u32> = data.accounts.iter().map(|a| a.followers).collect();
        followers.sort_unstable();
        let median = followers[followers.len() / 2];
        let top = followers[followers.len() - 1];
        assert!(top > 50 * median.max(1), "top {top}, median {median}");
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = generate(&shape(50, 500, 5, 300));
        let b = generate(&shape(50, 500, 5, 300));
        let key = |d: &Dataset| {
            (
                d.posts
                    .iter()
                    .map(|p| (p.author, p.parent, p.date))
                    .collect::<Vec<_>>(),
                d.likes
                    .iter()
                    .map(|e| (e.from, e.to, e.at))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(key(&a), key(&b));
    }
}
