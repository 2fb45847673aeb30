-- Reposts (boosts), bookmarks, and live counters.
--
-- A repost takes its id from the posts' sequence, so reposts and posts share
-- one time order: the home timeline pages over both with one keyset cursor
-- (domain::timelines explains how a post reposted by several followees shows
-- once). Counters and the notification are kept by triggers, as for likes.

ALTER TABLE posts ADD COLUMN repost_count integer NOT NULL DEFAULT 0;

CREATE TABLE reposts (
    id         bigint      NOT NULL DEFAULT nextval(pg_get_serial_sequence('posts', 'id')),
    user_id    bigint      NOT NULL,
    post_id    bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reposts_pkey PRIMARY KEY (user_id, post_id),
    CONSTRAINT reposts_id_key UNIQUE (id),
    CONSTRAINT reposts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT reposts_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
);
-- The home timeline (a followee's reposts, newest first)
CREATE INDEX reposts_user_idx ON reposts (user_id, id);
-- GET /post/{id}/reposted_by/ and the timeline's "reposted again later" probe
CREATE INDEX reposts_post_idx ON reposts (post_id, id);

-- Private to their owner: no counter, no notification, no event.
CREATE TABLE bookmarks (
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL,
    post_id    bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bookmarks_pkey PRIMARY KEY (user_id, post_id),
    CONSTRAINT bookmarks_id_key UNIQUE (id),
    CONSTRAINT bookmarks_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT bookmarks_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
);
-- GET /user/bookmarks/ (newest bookmark first)
CREATE INDEX bookmarks_user_idx ON bookmarks (user_id, id);
CREATE INDEX bookmarks_post_idx ON bookmarks (post_id);

CREATE FUNCTION reposts_maintain_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE posts SET repost_count = repost_count + 1 WHERE id = NEW.post_id;
    ELSE
        UPDATE posts SET repost_count = repost_count - 1 WHERE id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER reposts_count AFTER INSERT OR DELETE ON reposts
    FOR EACH ROW EXECUTE FUNCTION reposts_maintain_counts();

-- The author learns of a repost once per reposter and post ever (undo and
-- redo never notify twice), and never of their own.
ALTER TABLE notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_type_check
    CHECK (type IN ('like', 'reply', 'follow', 'mention', 'repost'));
CREATE UNIQUE INDEX notifications_repost_key ON notifications (actor_id, post_id) WHERE type = 'repost';

CREATE FUNCTION reposts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notifications (user_id, actor_id, type, post_id)
    SELECT p.user_id, NEW.user_id, 'repost', NEW.post_id
      FROM posts p
     WHERE p.id = NEW.post_id AND p.user_id <> NEW.user_id
    ON CONFLICT (actor_id, post_id) WHERE type = 'repost' DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER reposts_notify AFTER INSERT ON reposts
    FOR EACH ROW EXECUTE FUNCTION reposts_notify();

-- Events: `repost` (user_id is the reposter: it reaches the reposter's
-- followers' home stream, never the public one) and `post.counts` (a live
-- post's like, reply or repost count moved; routed like the post itself).
ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ADD CONSTRAINT events_type_check
    CHECK (type IN ('post', 'post.update', 'post.delete', 'notification', 'repost', 'post.counts'));
ALTER TABLE events_pending DROP CONSTRAINT events_pending_type_check;
ALTER TABLE events_pending ADD CONSTRAINT events_pending_type_check
    CHECK (type IN ('post', 'post.update', 'post.delete', 'notification', 'repost', 'post.counts'));

CREATE FUNCTION reposts_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM events_append('repost', NEW.post_id, NULL, NEW.user_id, false);
    RETURN NULL;
END $$;

CREATE TRIGGER reposts_event AFTER INSERT ON reposts
    FOR EACH ROW EXECUTE FUNCTION reposts_event();

CREATE FUNCTION posts_counts_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM events_append('post.counts', NEW.id, NULL, NEW.user_id, NEW.parent_id IS NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER posts_counts_event AFTER UPDATE OF like_count, reply_count, repost_count ON posts
    FOR EACH ROW
    WHEN (NEW.deleted_at IS NULL AND (OLD.like_count, OLD.reply_count, OLD.repost_count)
          IS DISTINCT FROM (NEW.like_count, NEW.reply_count, NEW.repost_count))
    EXECUTE FUNCTION posts_counts_event();
