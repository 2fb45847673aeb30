-- Open live streams per bucket (an account, a client address), shared by
-- every pamps instance when rate_limit.store = "postgres": see
-- src/rate_limit/slots.rs.
--
-- One row per open stream and bucket. A row is a lease: its instance renews
-- `expires_at` while the stream is open and deletes the row when it closes;
-- the rows of an instance that crashed expire by themselves and are swept
-- with the rate-limit buckets. UNLOGGED, as rate_limits: after a crash the
-- table is empty, which only frees slots.
CREATE UNLOGGED TABLE stream_slots (
    id         uuid        NOT NULL,
    key        text        NOT NULL,
    instance   uuid        NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT stream_slots_pkey PRIMARY KEY (id, key)
);
-- Counting a bucket's open streams.
CREATE INDEX stream_slots_key_idx ON stream_slots (key, expires_at);
-- Renewing an instance's leases.
CREATE INDEX stream_slots_instance_idx ON stream_slots (instance);
