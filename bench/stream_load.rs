//! Load generator for pamps's live stream (see bench/README.md, `bench/stream.sh`).
//!
//! - `idle`: opens N WebSocket connections to `/stream` (anonymous, `public`),
//!   holds them for `--secs` while reading (so pings are answered), and says
//!   how many connected, failed and ended early. Prints `HOLDING` once every
//!   connection attempt has finished, so a script can measure meanwhile.
//! - `latency`: N followers of one author (seeded beforehand; usernames are
//!   `user<id>`) connect to `/stream?streams=home` with access tokens signed
//!   here with the server's secret; then the author posts M times and, for
//!   each (post, follower), the delay from the `201` to the `post` event on
//!   that follower's socket is measured.
//!
//! Traffic goes where the URLs say (loopback in bench/stream.sh); every run
//! is bounded in time. The last line is `RESULT key=value ...`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

#[derive(Parser)]
#[command(about = "Load generator for the pamps live stream")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Hold N idle WebSocket connections.
    Idle {
        /// WebSocket URL, e.g. ws://127.0.0.1:8000/stream
        #[arg(long)]
        url: String,
        /// Connections to open.
        #[arg(long, default_value_t = 10_000)]
        sockets: usize,
        /// Seconds to hold them after the last connection attempt.
        #[arg(long, default_value_t = 40)]
        secs: u64,
        /// Connection attempts in flight at once.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
    },
    /// Post-to-socket latency for the followers of one author.
    Latency {
        /// HTTP base, e.g. http://127.0.0.1:8000
        #[arg(long)]
        base: String,
        /// The server's `security.secret_key` (HS256), to sign access tokens.
        #[arg(long, env = "PAMPS_SECURITY__SECRET_KEY")]
        secret: String,
        /// The author's user id (username `user<id>`).
        #[arg(long)]
        author: i64,
        /// The first follower's id; followers are ids first..first+N-1.
        #[arg(long)]
        first_follower: i64,
        /// Followers to connect.
        #[arg(long, default_value_t = 1_000)]
        followers: usize,
        /// Posts the author makes.
        #[arg(long, default_value_t = 20)]
        posts: usize,
        /// Milliseconds between two posts.
        #[arg(long, default_value_t = 100)]
        interval_ms: u64,
        /// Connection attempts in flight at once.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        /// Seconds to wait for the last events after the last post.
        #[arg(long, default_value_t = 15)]
        wait_secs: u64,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.mode {
            Mode::Idle {
                url,
                sockets,
                secs,
                concurrency,
            } => idle(url, sockets, secs, concurrency).await,
            Mode::Latency {
                base,
                secret,
                author,
                first_follower,
                followers,
                posts,
                interval_ms,
                concurrency,
                wait_secs,
            } => {
                let run = LatencyRun {
                    base,
                    secret,
                    author,
                    first_follower,
                    followers,
                    posts,
                    interval: Duration::from_millis(interval_ms),
                    concurrency,
                    wait: Duration::from_secs(wait_secs),
                };
                latency(run).await
            }
        }
    })
}

/// The client's socket settings. tungstenite zeroes its whole read buffer
/// (128 KiB by default) before every read, twice per message here (the read
/// and the one that finds nothing more): ~256 MB of `memset` per post to
/// 1,000 followers, on the cores the server shares (5.5 % of all samples of
/// a `perf` profile of a run, more than the server's own user-space time).
/// The server's messages are well under 4 KiB.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

/// Connects a WebSocket with an optional bearer token.
async fn connect(url: &str, token: Option<&str>) -> Result<Socket, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| "bad token".to_owned())?;
        request.headers_mut().insert("authorization", value);
    }
    match tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async_with_config(request, Some(socket_config()), false),
    )
    .await
    {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(res))) => {
            Err(format!("HTTP {}", res.status().as_u16()))
        }
        Ok(Err(e)) => Err(short_error(&e.to_string())),
        Err(_) => Err("connect timeout".to_owned()),
    }
}

fn short_error(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Counts of outcomes by kind, printed sorted.
#[derive(Default)]
struct Tally(std::sync::Mutex<HashMap<String, usize>>);

impl Tally {
    fn add(&self, kind: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    fn summary(&self) -> String {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut kinds: Vec<_> = map.iter().collect();
        kinds.sort();
        kinds
            .into_iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

async fn idle(
    url: String,
    sockets: usize,
    secs: u64,
    concurrency: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let connected = Arc::new(AtomicUsize::new(0));
    let ended_early = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Tally::default());
    let endings = Arc::new(Tally::default());
    // Holding ends at a deadline set once every attempt has finished.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(sockets.max(1));
    let mut tasks = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let (url, gate, connected, ended_early, failures, endings) = (
            url.clone(),
            gate.clone(),
            connected.clone(),
            ended_early.clone(),
            failures.clone(),
            endings.clone(),
        );
        let (mut stop, done) = (stop_rx.clone(), done_tx.clone());
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let socket = connect(&url, None).await;
            drop(permit);
            let _ = done.send(()).await;
            let mut socket = match socket {
                Ok(s) => s,
                Err(e) => return failures.add(e),
            };
            connected.fetch_add(1, Ordering::Relaxed);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    message = socket.next() => match message {
                        Some(Ok(Message::Close(frame))) => {
                            ended_early.fetch_add(1, Ordering::Relaxed);
                            let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                            return endings.add(format!("closed {code}"));
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            ended_early.fetch_add(1, Ordering::Relaxed);
                            return endings.add(short_error(&e.to_string()));
                        }
                        None => {
                            ended_early.fetch_add(1, Ordering::Relaxed);
                            return endings.add("dropped".to_owned());
                        }
                    },
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
        }));
    }
    drop(done_tx);
    for _ in 0..sockets {
        done_rx.recv().await;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let up = connected.load(Ordering::Relaxed);
    println!(
        "connected {up} of {sockets} in {connect_secs:.1} s; failures: {}",
        failures.summary()
    );
    println!("HOLDING {up}");
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let open = up - ended_early.load(Ordering::Relaxed);
    println!(
        "after {secs} s: {open} still open; ended early: {}",
        endings.summary()
    );
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    println!(
        "RESULT mode=idle sockets={sockets} connected={up} failed={} open_at_end={open} connect_secs={connect_secs:.1} hold_secs={secs}",
        sockets - up
    );
    Ok(())
}

struct LatencyRun {
    base: String,
    secret: String,
    author: i64,
    first_follower: i64,
    followers: usize,
    posts: usize,
    interval: Duration,
    concurrency: usize,
    wait: Duration,
}

/// An HS256 access token for `user<uid>`, as the server signs them.
fn access_token(secret: &str, uid: i64) -> Result<String, jsonwebtoken::errors::Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let claims = serde_json::json!({
        "sub": format!("user{uid}"),
        "uid": uid,
        "iat": now,
        "exp": now + 3600,
        "scope": "access_token",
        "fresh": false,
        "jti": uuid::Uuid::new_v4(),
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// What one follower's socket saw: (post id, when) per `post` event.
type Receipts = Vec<(i64, Instant)>;

async fn latency(run: LatencyRun) -> Result<(), Box<dyn std::error::Error>> {
    let host = run
        .base
        .strip_prefix("http://")
        .ok_or("--base must start with http://")?
        .trim_end_matches('/')
        .to_owned();
    let url = format!("ws://{host}/stream?streams=home");
    let gate = Arc::new(Semaphore::new(run.concurrency.max(1)));
    let failures = Arc::new(Tally::default());
    let endings = Arc::new(Tally::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every follower's receipts, collected when its task ends.
    let all: Arc<Mutex<Vec<Receipts>>> = Arc::default();
    let complete = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut connecting = Vec::with_capacity(run.followers);
    for i in 0..run.followers {
        let uid = run.first_follower + i as i64;
        let token = access_token(&run.secret, uid)?;
        let (url, gate, failures, endings, all, complete) = (
            url.clone(),
            gate.clone(),
            failures.clone(),
            endings.clone(),
            all.clone(),
            complete.clone(),
        );
        let mut stop = stop_rx.clone();
        let posts = run.posts;
        connecting.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let socket = connect(&url, Some(&token)).await;
            drop(permit);
            let mut socket = match socket {
                Ok(s) => s,
                Err(e) => {
                    failures.add(e);
                    return None;
                }
            };
            // Reading starts now; the caller learns the socket is up.
            Some(tokio::spawn(async move {
                let mut receipts = Receipts::with_capacity(posts);
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        message = socket.next() => {
                            let at = Instant::now();
                            match message {
                                Some(Ok(Message::Text(text))) => {
                                    if let Some(id) = post_event_id(&text) {
                                        receipts.push((id, at));
                                        if receipts.len() == posts {
                                            complete.fetch_add(1, Ordering::Relaxed);
                                        }
                                    }
                                }
                                Some(Ok(Message::Close(frame))) => {
                                    let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                                    endings.add(format!("closed {code}"));
                                    break;
                                }
                                Some(Ok(_)) => {}
                                Some(Err(e)) => {
                                    endings.add(short_error(&e.to_string()));
                                    break;
                                }
                                None => {
                                    endings.add("dropped".to_owned());
                                    break;
                                }
                            }
                        }
                    }
                }
                all.lock().await.push(receipts);
                let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
            }))
        }));
    }
    let mut readers = Vec::with_capacity(run.followers);
    for task in connecting {
        if let Ok(Some(reader)) = task.await {
            readers.push(reader);
        }
    }
    let up = readers.len();
    println!(
        "{up} of {} followers connected in {:.1} s; failures: {}",
        run.followers,
        started.elapsed().as_secs_f64(),
        failures.summary()
    );
    if up == 0 {
        return Err("no follower connected".into());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The author posts over one keep-alive connection.
    let author_token = access_token(&run.secret, run.author)?;
    let mut http = TcpStream::connect(&host).await?;
    http.set_nodelay(true)?;
    let mut sent: Vec<(i64, Instant, Instant)> = Vec::with_capacity(run.posts);
    let mut next = Instant::now();
    for n in 0..run.posts {
        tokio::time::sleep_until(next).await;
        next += run.interval;
        let body = serde_json::json!({ "text": format!("stream latency probe {n}") }).to_string();
        let before = Instant::now();
        let (status, body) =
            http_request(&mut http, &host, "POST", "/post/", &author_token, &body).await?;
        let at = Instant::now();
        if status != 201 {
            return Err(format!("POST /post/ answered {status}: {body}").into());
        }
        let id = serde_json::from_str::<serde_json::Value>(&body)?["id"]
            .as_i64()
            .ok_or("no id in the 201 body")?;
        sent.push((id, before, at));
    }
    let deadline = Instant::now() + run.wait;
    while complete.load(Ordering::Relaxed) < up && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    for reader in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    }

    // (post id) -> (sent, 201 at)
    let index: HashMap<i64, (Instant, Instant)> =
        sent.iter().map(|&(id, b, a)| (id, (b, a))).collect();
    let mut delays_us: Vec<i64> = Vec::new(); // from the 201
    let mut from_send_us: Vec<i64> = Vec::new(); // from the request's start
    let mut last_per_post: HashMap<i64, i64> = HashMap::new();
    let mut first_per_post: HashMap<i64, i64> = HashMap::new();
    let mut got_per_post: HashMap<i64, usize> = HashMap::new();
    for receipts in all.lock().await.iter() {
        for &(id, at) in receipts {
            let Some(&(before, created)) = index.get(&id) else {
                continue;
            };
            let d = signed_us(at, created);
            delays_us.push(d);
            from_send_us.push(signed_us(at, before));
            let last = last_per_post.entry(id).or_insert(i64::MIN);
            *last = (*last).max(d);
            let first = first_per_post.entry(id).or_insert(i64::MAX);
            *first = (*first).min(d);
            *got_per_post.entry(id).or_default() += 1;
        }
    }
    let expected = run.posts * up;
    let missing = expected - delays_us.len();
    let early = delays_us.iter().filter(|d| **d < 0).count();
    delays_us.sort_unstable();
    from_send_us.sort_unstable();
    let mut lasts: Vec<i64> = last_per_post.values().copied().collect();
    lasts.sort_unstable();
    let posts_reaching_all = got_per_post.values().filter(|n| **n == up).count();
    let ms = |us: i64| us as f64 / 1000.0;
    let (p50, p99, max) = (
        ms(pct(&delays_us, 0.50)),
        ms(pct(&delays_us, 0.99)),
        ms(*delays_us.last().unwrap_or(&0)),
    );
    let (last_p50, last_max) = (ms(pct(&lasts, 0.50)), ms(*lasts.last().unwrap_or(&0)));
    // When the fan-out starts (the first follower's event) against how long
    // it takes (the median and the last follower's).
    let mut firsts: Vec<i64> = first_per_post.values().copied().collect();
    firsts.sort_unstable();
    let first_p50 = ms(pct(&firsts, 0.50));
    let post_p50 = {
        let mut rtt: Vec<i64> = sent.iter().map(|&(_, b, a)| signed_us(a, b)).collect();
        rtt.sort_unstable();
        ms(pct(&rtt, 0.50))
    };
    println!(
        "{} posts x {up} followers: {} deliveries, {missing} missing ({posts_reaching_all} posts reached every follower); \
         {early} arrived before the 201 was read (counted as <= 0)",
        run.posts,
        delays_us.len()
    );
    println!(
        "201 -> event: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; \
         request start -> event: p50 {:.2} ms, p99 {:.2} ms; POST /post/ itself: p50 {post_p50:.2} ms",
        ms(pct(&from_send_us, 0.50)),
        ms(pct(&from_send_us, 0.99))
    );
    println!(
        "201 -> first follower: median over posts {first_p50:.2} ms; \
         201 -> last follower: median over posts {last_p50:.2} ms, worst post {last_max:.2} ms; socket endings: {}",
        endings.summary()
    );
    println!(
        "RESULT mode=latency followers={} connected={up} posts={} deliveries={} missing={missing} \
         p50_ms={p50:.2} p99_ms={p99:.2} max_ms={max:.2} first_p50_ms={first_p50:.2} last_p50_ms={last_p50:.2} last_max_ms={last_max:.2} \
         send_p50_ms={:.2} send_p99_ms={:.2} post_p50_ms={post_p50:.2} before_201={early}",
        run.followers,
        run.posts,
        delays_us.len(),
        ms(pct(&from_send_us, 0.50)),
        ms(pct(&from_send_us, 0.99)),
    );
    Ok(())
}

/// Microseconds from `from` to `to`, negative when `to` came first.
fn signed_us(to: Instant, from: Instant) -> i64 {
    if to >= from {
        (to - from).as_micros() as i64
    } else {
        -((from - to).as_micros() as i64)
    }
}

/// The `q` quantile of sorted values (nearest rank).
fn pct(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The post id of a `post` event message, if it is one. The server writes
/// `{"event":"post","id":…,"stream":…,"data":{"id":N,…}}`: that shape is read
/// without a JSON parse (10,000 sockets share the server's cores), anything
/// else is parsed.
fn post_event_id(text: &str) -> Option<i64> {
    if let Some(rest) = text.strip_prefix(r#"{"event":"#) {
        if !rest.starts_with(r#""post","#) {
            return None;
        }
        if let Some(at) = rest.find(r#","data":{"id":"#) {
            let digits = &rest[at + r#","data":{"id":"#.len()..];
            let end = digits
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            if let Ok(id) = digits[..end].parse() {
                return Some(id);
            }
        }
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value["event"] != "post" {
        return None;
    }
    value["data"]["id"].as_i64()
}

/// One HTTP/1.1 request on a keep-alive connection: status and body.
async fn http_request(
    stream: &mut TcpStream,
    host: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed before the response".into());
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..header_end]).into_owned();
    let status: u16 = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or("no Content-Length in the response")?;
    while raw.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed inside the body".into());
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&raw[header_end..header_end + length]).into_owned();
    Ok((status, body))
}
