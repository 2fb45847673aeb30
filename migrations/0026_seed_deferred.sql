-- What `pamps seed` took off the bulk tables (posts, follows, likes,
-- notifications) for its load: one row per index, key, foreign key,
-- validation, trigger and autovacuum switch, with the statements that take
-- it off (`undo`, idempotent) and put it back (`redo`). The load commits in stages on
-- several connections, so the list is kept in a table: while it has rows a
-- seed is unfinished, and `pamps seed --force` empties the tables and puts
-- every object back before seeding again.
CREATE TABLE seed_deferred (
    ord  integer  GENERATED ALWAYS AS IDENTITY,
    -- 0 index, 1 key, 2 foreign key (NOT VALID), 3 validation, 4 trigger or
    -- autovacuum: put back in this order, taken off in the reverse one.
    step smallint NOT NULL,
    -- The table the statement alters.
    tbl  text     NOT NULL,
    undo text,
    redo text     NOT NULL,
    CONSTRAINT seed_deferred_pkey PRIMARY KEY (ord),
    CONSTRAINT seed_deferred_step CHECK (step BETWEEN 0 AND 4)
);
