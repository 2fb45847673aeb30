//! Rows in PostgreSQL's binary `COPY` format, streamed in chunks.

use indicatif::ProgressBar;
use sqlx::PgConnection;

/// Bytes buffered before a chunk is sent.
const CHUNK_BYTES: usize = 1 << 20;
/// Signature, flags and header-extension length of a binary `COPY` stream.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A buffer of binary `COPY` rows.
pub struct Rows {
    buf: Vec<u8>,
}

impl Rows {
    fn new() -> Self {
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 4096);
        buf.extend_from_slice(HEADER);
        Self { buf }
    }

    /// Starts a row of `fields` columns.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    /// A `bigint`.
    pub fn bigint(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// An `integer`.
    pub fn int(&mut self, v: u32) -> &mut Self {
        let v = i32::try_from(v).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&4i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A `timestamptz` given in microseconds since the Unix epoch.
    pub fn timestamp(&mut self, unix_micros: i64) -> &mut Self {
        self.bigint(unix_micros - PG_EPOCH_MICROS)
    }

    /// A NULL of any type.
    pub fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    /// A `text` that `write` appends as UTF-8.
    pub fn text(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        write(&mut self.buf);
        let len = i32::try_from(self.buf.len() - at - 4).unwrap_or(i32::MAX);
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        self
    }
}

/// Runs `statement` (a `COPY … FROM STDIN (FORMAT binary)`) and streams
/// `count` rows written by `write_row`, advancing `bar` per chunk.
pub async fn copy_rows(
    conn: &mut PgConnection,
    statement: &str,
    count: usize,
    bar: &ProgressBar,
    mut write_row: impl FnMut(usize, &mut Rows),
) -> Result<u64, sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut rows = Rows::new();
    let mut reported = 0;
    for i in 0..count {
        write_row(i, &mut rows);
        if rows.buf.len() >= CHUNK_BYTES {
            copy.send(rows.buf.as_slice()).await?;
            rows.buf.clear();
            bar.inc((i + 1 - reported) as u64);
            reported = i + 1;
        }
    }
    rows.buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(rows.buf.as_slice()).await?;
    bar.inc((count - reported) as u64);
    copy.finish().await
}
