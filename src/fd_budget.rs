//! How many connections and streams the open-file limit can hold.
//!
//! Every socket is a file descriptor. When idle streams use up the process's
//! descriptors, `accept` fails with "Too many open files" and the REST API
//! goes down with the streams. So the limit is shared out at start: a fixed
//! part for the process itself, the database pool and pamps' own database
//! connections, a reserve for REST connections, and the rest for streams.
//! The stream cap is `stream.max_sockets` or what the limit leaves, whichever
//! is lower; the HTTP server accepts no more connections than the limit
//! holds, so a flood waits in the listen backlog instead of failing accept.

/// Descriptors the process uses besides sockets: stdio, epoll and eventfds
/// per worker, the binary's own files, log output.
const PROCESS_FDS: u64 = 64;

/// Database connections outside the pool: the event listener, the
/// numbering role's, the session watcher, the rate-limit sweeper, one spare
/// for a reconnect in flight.
const OWN_DB_CONNECTIONS: u64 = 5;

/// REST connections kept free of streams: a quarter of what is left after
/// the fixed part, at most this many.
const REST_RESERVE_MAX: u64 = 1024;

/// Fewest REST connections a configuration must leave room for.
const REST_RESERVE_MIN: u64 = 16;

/// The shares of the open-file limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    /// The soft open-file limit the shares come from.
    pub limit: u64,
    /// Connections (streams and REST) the HTTP server accepts at once.
    pub connections: u64,
    /// Streams open at once: `stream.max_sockets` or what the limit holds.
    pub streams: u64,
    /// Connections always left for REST.
    pub rest_reserve: u64,
}

/// Shares out `limit` descriptors for a pool of `pool_size` and a configured
/// `max_sockets`; an error that says what to change when the limit cannot
/// hold the fixed part, the REST reserve and at least one stream.
pub fn plan(limit: u64, pool_size: u32, max_sockets: usize) -> Result<FdBudget, String> {
    let fixed = PROCESS_FDS + u64::from(pool_size) + OWN_DB_CONNECTIONS;
    let connections = limit.saturating_sub(fixed);
    let rest_reserve = (connections / 4).clamp(REST_RESERVE_MIN, REST_RESERVE_MAX);
    if connections < rest_reserve + 1 {
        return Err(format!(
            "the open-file limit ({limit}) cannot hold the database pool ({pool_size}), \
             pamps' own {fixed} descriptors, {REST_RESERVE_MIN} REST connections and one stream: \
             raise it (ulimit -n, LimitNOFILE=) to at least {} or lower db.max_connections",
            fixed + REST_RESERVE_MIN + 1
        ));
    }
    let streams = (connections - rest_reserve).min(max_sockets as u64);
    Ok(FdBudget {
        limit,
        connections,
        streams,
        rest_reserve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_limit_keeps_the_configured_cap() {
        let b = plan(1_048_576, 16, 20_000).unwrap();
        assert_eq!(b.streams, 20_000);
        assert_eq!(b.rest_reserve, REST_RESERVE_MAX);
    }

    #[test]
    fn the_limit_of_the_attack_leaves_room_for_rest() {
        // Hard limit 20,000 and max_sockets 20,000: accept used to fail.
        let b = plan(20_000, 16, 20_000).unwrap();
        assert_eq!(b.connections, 20_000 - 85);
        assert_eq!(b.streams, 20_000 - 85 - 1024);
        assert_eq!(b.connections - b.streams, 1024);
    }

    #[test]
    fn a_small_limit_shares_out_a_quarter_for_rest() {
        let b = plan(1024, 16, 20_000).unwrap();
        assert_eq!((b.connections, b.rest_reserve, b.streams), (939, 234, 705));
    }

    #[test]
    fn a_limit_that_cannot_hold_the_fixed_part_is_refused() {
        let err = plan(101, 16, 20_000).unwrap_err();
        assert!(err.contains("open-file limit (101)"), "{err}");
        assert!(err.contains("at least 102"), "{err}");
        assert!(plan(102, 16, 20_000).is_ok());
        assert_eq!(plan(102, 16, 20_000).unwrap().streams, 1);
    }
}
