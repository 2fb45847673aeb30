-- Numbering events without rewriting them (see 0002 for why events are
-- numbered after they commit).
--
-- Until now a writer inserted the event with `pos` NULL and the numberer then
-- updated every row: two versions of each event, the dead one left for
-- vacuum (221k dead rows after one write benchmark) and every numbering poll
-- reading through them. Now a writer appends to the small `events_pending`
-- queue, and the numberer moves committed rows from it into `events` with
-- their position, in one statement under the numbering lock. `events` is
-- append-only (rows leave only by pruning); the queue holds only what is
-- not numbered yet, a few rows, and its dead rows are vacuumed after every
-- thousand (the per-table settings below). The order guarantee is unchanged:
-- numbering transactions still follow one another under the advisory lock,
-- so a position becomes visible only after every smaller one.
CREATE TABLE events_pending (
    -- The write order; positions are given in this order.
    id              bigint GENERATED ALWAYS AS IDENTITY,
    type            text        NOT NULL,
    post_id         bigint,
    notification_id bigint,
    user_id         bigint      NOT NULL,
    top_level       boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_pending_pkey PRIMARY KEY (id),
    CONSTRAINT events_pending_type_check CHECK (type IN ('post', 'post.update', 'post.delete', 'notification'))
) WITH (
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_cost_delay = 0
);

-- Events written before this migration and not numbered yet move to the
-- queue with their ids; new ones continue after them.
INSERT INTO events_pending (id, type, post_id, notification_id, user_id, top_level, created_at)
OVERRIDING SYSTEM VALUE
SELECT id, type, post_id, notification_id, user_id, top_level, created_at
  FROM events WHERE pos IS NULL;
SELECT setval(pg_get_serial_sequence('events_pending', 'id'),
              (SELECT coalesce(max(id), 0) + 1 FROM events), false);
DELETE FROM events WHERE pos IS NULL;

-- `events` is keyed by position now; `id` stays as the write order, for
-- reading the log by hand.
DROP INDEX events_unnumbered_idx;
ALTER TABLE events ALTER COLUMN id DROP IDENTITY;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ALTER COLUMN pos SET NOT NULL;
ALTER TABLE events DROP CONSTRAINT events_pos_key;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (pos);
-- Never updated, so full pages (fillfactor 100); vacuumed soon after a
-- pruning deletes (1 % dead) and after inserts (for index-only scans).
ALTER TABLE events SET (
    fillfactor = 100,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.05
);

-- Appends one event to the queue; it is numbered after the transaction commits.
CREATE OR REPLACE FUNCTION events_append(kind text, post bigint, notification bigint, recipient bigint, top boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events_pending (type, post_id, notification_id, user_id, top_level)
    VALUES (kind, post, notification, recipient, top);
END $$;
