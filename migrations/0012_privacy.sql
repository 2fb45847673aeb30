-- Privacy: post visibility levels, blocks, mutes, and the read side of a
-- suspended account (the moderation migration adds the same column; either
-- may land first).
--
-- Levels are named as Mastodon names them: public, unlisted (readable by
-- anyone with the link and on profiles, not on public lists or search),
-- private (followers-only: the author, their followers and the mentioned)
-- and direct (the author and the mentioned). The rule that reads them is
-- src/visibility.rs (`visible_post!`, `may_see`).

ALTER TABLE users ADD COLUMN IF NOT EXISTS suspended_at timestamptz;
-- The visibility rule asks "is this author suspended?" for every post it
-- reads; without this index PostgreSQL answers with a scan of all users
-- (GET /post/ went from 0.14 ms to 17 ms at 100k users).
CREATE INDEX IF NOT EXISTS users_suspended_idx ON users (id) WHERE suspended_at IS NOT NULL;

ALTER TABLE posts
    ADD COLUMN visibility text NOT NULL DEFAULT 'public',
    -- Every user the text mentions (no cap, unlike mention notifications),
    -- written with the text by domain::posts: who may read a private or
    -- direct post besides the author and followers.
    ADD COLUMN mentioned bigint[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT posts_visibility_check
        CHECK (visibility IN ('public', 'unlisted', 'private', 'direct'));

-- A block: each of the two is hidden from the other everywhere, and follows,
-- replies, likes and mention notifications between them are refused.
CREATE TABLE blocks (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    blocker_id bigint      NOT NULL,
    blocked_id bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT blocks_pkey PRIMARY KEY (blocker_id, blocked_id),
    CONSTRAINT blocks_id_key UNIQUE (id),
    CONSTRAINT blocks_blocker_id_fkey FOREIGN KEY (blocker_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT blocks_blocked_id_fkey FOREIGN KEY (blocked_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT blocks_not_self CHECK (blocker_id <> blocked_id)
);
-- The other direction of the visibility check, and GET /user/blocks/.
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id);
CREATE INDEX blocks_list_idx ON blocks (blocker_id, id);

-- A mute: the muted disappear from the muter's timelines (unless
-- notifications_only) and notifications, until expires_at (null: forever).
-- The muted are not told.
CREATE TABLE mutes (
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    muter_id           bigint      NOT NULL,
    muted_id           bigint      NOT NULL,
    notifications_only boolean     NOT NULL DEFAULT false,
    expires_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mutes_pkey PRIMARY KEY (muter_id, muted_id),
    CONSTRAINT mutes_id_key UNIQUE (id),
    CONSTRAINT mutes_muter_id_fkey FOREIGN KEY (muter_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT mutes_muted_id_fkey FOREIGN KEY (muted_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT mutes_not_self CHECK (muter_id <> muted_id)
);
CREATE INDEX mutes_list_idx ON mutes (muter_id, id);

-- Whether either of two users blocks the other.
CREATE FUNCTION blocked_between(a bigint, b bigint)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM blocks
                    WHERE (blocker_id = a AND blocked_id = b) OR (blocker_id = b AND blocked_id = a))
$$;

-- As in 0002, except that nobody is notified of a mention by someone they
-- block or who blocks them.
CREATE OR REPLACE FUNCTION posts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent_author bigint;
BEGIN
    IF NEW.deleted_at IS NOT NULL
       OR (TG_OP = 'UPDATE' AND NEW.text IS NOT DISTINCT FROM OLD.text) THEN
        RETURN NULL;
    END IF;
    IF NEW.parent_id IS NOT NULL THEN
        SELECT user_id INTO parent_author FROM posts WHERE id = NEW.parent_id;
        IF TG_OP = 'INSERT' AND parent_author <> NEW.user_id THEN
            INSERT INTO notifications (user_id, actor_id, type, post_id)
            VALUES (parent_author, NEW.user_id, 'reply', NEW.id);
        END IF;
    END IF;
    IF strpos(NEW.text, '@') > 0 THEN
        INSERT INTO notifications (user_id, actor_id, type, post_id)
        SELECT m.user_id, NEW.user_id, 'mention', NEW.id
          FROM post_mentions(NEW.text, NEW.user_id, parent_author) m
         WHERE NOT EXISTS (SELECT 1 FROM notifications x
                            WHERE x.type = 'mention' AND x.post_id = NEW.id AND x.user_id = m.user_id)
           AND NOT blocked_between(m.user_id, NEW.user_id)
         ORDER BY m.ord
         LIMIT 10 - (SELECT count(*) FROM notifications x WHERE x.type = 'mention' AND x.post_id = NEW.id)
        ON CONFLICT (post_id, user_id) WHERE type = 'mention' DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
