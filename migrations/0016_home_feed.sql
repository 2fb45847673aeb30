-- Per-account home feeds (issue 19.2): the entries of each account's home
-- timeline, written by the fan-out worker (`bus::home`) after the post or
-- repost commits, so a read costs its page, not a probe per followed account.
--
-- An entry is a post by a source (an account the owner follows, or the owner)
-- or a source's repost; `entry_id` is the post's id or the repost's (one
-- sequence), the timeline's cursor. Entries are only candidates: the read
-- applies the visibility rule, the follow and the repost's existence to each
-- (`models::home_feed`), so an entry that should no longer show never does,
-- even before it is removed.
CREATE TABLE home_feed (
    account_id bigint  NOT NULL,
    entry_id   bigint  NOT NULL,
    post_id    bigint  NOT NULL,
    -- The post's author, or the reposter.
    source_id  bigint  NOT NULL,
    repost     boolean NOT NULL,
    -- No foreign keys: a check per row would lock 27,000 users rows for a
    -- post by an account with 27,000 followers. Accounts are never removed
    -- by pamps (a deleted account keeps its row, and its feed is deleted
    -- with its traces); a row left by a removal in SQL is only a candidate.
    CONSTRAINT home_feed_pkey PRIMARY KEY (account_id, entry_id)
) WITH (
    fillfactor = 90,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05
);

-- An account's feed, once built: every entry with `entry_id >= floor` is in
-- `home_feed` or not yet fanned out (the read's tail covers those); below
-- `floor` the read falls back to the query over follows. No row: no feed
-- yet (the first read builds it).
CREATE TABLE home_feed_state (
    account_id bigint NOT NULL,
    floor      bigint NOT NULL,
    CONSTRAINT home_feed_state_pkey PRIMARY KEY (account_id),
    CONSTRAINT home_feed_state_account_id_fkey FOREIGN KEY (account_id) REFERENCES users (id) ON DELETE CASCADE
);

-- How far the fan-out worker has read the event log: one row, locked by
-- the instance doing a batch (others skip it), advanced in the batch's
-- transaction, so an event is fanned out exactly once.
CREATE TABLE home_feed_cursor (
    one boolean NOT NULL DEFAULT true,
    pos bigint  NOT NULL,
    CONSTRAINT home_feed_cursor_pkey PRIMARY KEY (one),
    CONSTRAINT home_feed_cursor_one CHECK (one)
);
INSERT INTO home_feed_cursor (pos) SELECT coalesce(max(pos), 0) FROM events;
