-- Rate-limit buckets shared by every pamps instance (rate_limit.store = "postgres").
--
-- One row per limited key (e.g. 'register_ip:203.0.113.5'). `tat` is the
-- bucket's theoretical arrival time (GCRA): the bucket is full when
-- tat <= now(), and each allowed request pushes tat forward by window/limit.
-- A row whose tat is in the past means the same as no row at all, so the
-- periodic sweep (one instance at a time, see src/rate_limit/postgres.rs) may
-- delete it at any moment.
--
-- UNLOGGED: checks write no WAL (no fsync on the request path) and the table
-- is not replicated; after a crash PostgreSQL empties it, which only refills
-- every bucket. fillfactor leaves room on each page so the update of `tat`
-- (not an indexed column) is a HOT update that never touches the index.
CREATE UNLOGGED TABLE rate_limits (
    key text NOT NULL,
    tat timestamptz NOT NULL,
    CONSTRAINT rate_limits_pkey PRIMARY KEY (key)
) WITH (fillfactor = 70);
