-- Notifications (likes, replies, follows, mentions) and the event outbox that
-- feeds the live stream. Both are written by triggers in the same transaction
-- as the action, so a notification or event exists exactly when its action
-- committed, without a second round trip.

CREATE TABLE notifications (
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    -- The recipient.
    user_id    bigint      NOT NULL,
    actor_id   bigint      NOT NULL,
    type       text        NOT NULL,
    -- The liked post, the reply, or the post that mentions; null for a follow.
    post_id    bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_pkey PRIMARY KEY (id),
    CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT notifications_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT notifications_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT notifications_type_check CHECK (type IN ('like', 'reply', 'follow', 'mention')),
    CONSTRAINT notifications_post_presence CHECK ((type = 'follow') = (post_id IS NULL)),
    CONSTRAINT notifications_not_self CHECK (user_id <> actor_id)
);
-- GET /notifications (newest first) and the unread count
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
-- Undo and redo never notify twice: the row stays after an unlike or
-- unfollow, and inserting it again is ON CONFLICT DO NOTHING.
CREATE UNIQUE INDEX notifications_like_key ON notifications (actor_id, post_id) WHERE type = 'like';
CREATE UNIQUE INDEX notifications_follow_key ON notifications (actor_id, user_id) WHERE type = 'follow';
CREATE UNIQUE INDEX notifications_mention_key ON notifications (post_id, user_id) WHERE type = 'mention';
CREATE UNIQUE INDEX notifications_reply_key ON notifications (post_id) WHERE type = 'reply';
-- The cascade when a post row is removed (its author's account is deleted).
-- Removing an actor scans the table once; pamps never deletes accounts, and
-- another index would slow every insert and the seed for that alone.
CREATE INDEX notifications_post_idx ON notifications (post_id) WHERE post_id IS NOT NULL;

-- Each user's read marker: notifications with id <= last_read_id are read.
-- Its own table rather than a column on users: marking read is frequent, and
-- a column would write a new version of the users row (hot: the counter
-- triggers update it) and wait on the counter triggers' row locks.
CREATE TABLE notification_reads (
    user_id      bigint NOT NULL,
    last_read_id bigint NOT NULL,
    CONSTRAINT notification_reads_pkey PRIMARY KEY (user_id),
    CONSTRAINT notification_reads_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Notification triggers ---------------------------------------------------------
-- They only insert notifications, whose foreign-key checks take KEY SHARE
-- locks on users and posts; those never conflict with the NO KEY UPDATE locks
-- of the counter triggers, so no new lock order (and no deadlock) appears.
-- Nobody is notified of their own actions (notifications_not_self).

CREATE FUNCTION likes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notifications (user_id, actor_id, type, post_id)
    SELECT p.user_id, NEW.user_id, 'like', NEW.post_id
      FROM posts p
     WHERE p.id = NEW.post_id AND p.user_id <> NEW.user_id
    ON CONFLICT (actor_id, post_id) WHERE type = 'like' DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER likes_notify AFTER INSERT ON likes
    FOR EACH ROW EXECUTE FUNCTION likes_notify();

CREATE FUNCTION follows_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notifications (user_id, actor_id, type)
    VALUES (NEW.followee_id, NEW.follower_id, 'follow')
    ON CONFLICT (actor_id, user_id) WHERE type = 'follow' DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER follows_notify AFTER INSERT ON follows
    FOR EACH ROW EXECUTE FUNCTION follows_notify();

-- The names a text mentions, lowercased, with their position: `@` and a
-- username, not preceded by a word character or `@` (so an email address
-- mentions nobody) and not followed by a word character.
CREATE FUNCTION mention_names(body text)
RETURNS TABLE (name text, ord bigint) LANGUAGE sql IMMUTABLE AS $$
    SELECT lower(m.match[1]), m.ord
      FROM regexp_matches(body, '(?<![\w@])@([A-Za-z][A-Za-z0-9_]{2,31})(?!\w)', 'g')
           WITH ORDINALITY AS m (match, ord)
$$;

-- The users a text mentions, with the position of their first mention:
-- existing users only (case-insensitive), never the author, and never the
-- parent's author (who gets a reply instead). Each name is looked up on its
-- own (a subquery per match, kept from being inlined three times by OFFSET
-- 0), so each match is one probe of users_username_key, whatever the planner
-- guesses about the number of matches.
CREATE FUNCTION post_mentions(body text, author bigint, parent_author bigint)
RETURNS TABLE (user_id bigint, ord bigint) LANGUAGE sql STABLE AS $$
    SELECT t.id, min(t.ord)
      FROM (SELECT (SELECT u.id FROM users u WHERE lower(u.username) = m.name) AS id, m.ord
              FROM mention_names(body) m
            OFFSET 0) t
     WHERE t.id <> author AND t.id IS DISTINCT FROM parent_author
     GROUP BY t.id
$$;

-- A new reply notifies the parent's author; a new or edited live post
-- notifies the first users it mentions, at most 10 per post over all edits
-- (the unique index makes re-mentioning after an edit a no-op).
CREATE FUNCTION posts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
         ORDER BY m.ord
         LIMIT 10 - (SELECT count(*) FROM notifications x WHERE x.type = 'mention' AND x.post_id = NEW.id)
        ON CONFLICT (post_id, user_id) WHERE type = 'mention' DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER posts_notify AFTER INSERT OR UPDATE OF text ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_notify();

-- Event outbox -------------------------------------------------------------------
--
-- One log of what the live stream sends: posts, edits, deletes and
-- notifications. Rows carry ids only; readers load the payloads.
--
-- Ordering without the commit-order gap. A sequence numbers events in the
-- order they are written, but transactions commit in another order: a reader
-- that has seen event 11 (committed) can later find event 10 (its
-- transaction committed after), and would skip it by reading `pos > 11`.
-- So writers only append (`pos` NULL), taking no lock and sending no signal,
-- and events are numbered after they commit: a numbering transaction holds
-- an advisory lock (one numberer in the whole deployment at a time), gives
-- every committed unnumbered event the next `pos` in `id` order, signals
-- channel pamps_events once and commits. Numbering transactions follow one
-- another, so a committed `pos` is visible only after every smaller one:
-- reading `pos > last ORDER BY pos` never skips and never reorders. Writers
-- never wait for each other (a lock or a NOTIFY in every writing
-- transaction would make their commits take turns: models::event::number).
CREATE TABLE events (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    -- Given after commit (see above); NULL until then.
    pos             bigint,
    type            text        NOT NULL,
    post_id         bigint,
    notification_id bigint,
    -- The post's author, or the notification's recipient.
    user_id         bigint      NOT NULL,
    -- For post events: the post is not a reply.
    top_level       boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_pkey PRIMARY KEY (id),
    CONSTRAINT events_pos_key UNIQUE (pos),
    CONSTRAINT events_type_check CHECK (type IN ('post', 'post.update', 'post.delete', 'notification'))
);
-- What the numberer looks for.
CREATE INDEX events_unnumbered_idx ON events (id) WHERE pos IS NULL;
CREATE SEQUENCE events_pos_seq;

-- Pruning by age.
CREATE INDEX events_created_idx ON events (created_at);

-- The one row saying up to which pos events were pruned: a reader resuming
-- from below it has missed events it can no longer get.
CREATE TABLE events_pruned (
    id    boolean NOT NULL DEFAULT true,
    up_to bigint  NOT NULL DEFAULT 0,
    -- When an instance last claimed the pruning job (one per period, whoever
    -- claims it first: see models::event::claim_prune).
    pruned_at timestamptz NOT NULL DEFAULT '-infinity',
    CONSTRAINT events_pruned_pkey PRIMARY KEY (id),
    CONSTRAINT events_pruned_one_row CHECK (id)
);
INSERT INTO events_pruned DEFAULT VALUES;

-- Appends one event; it is numbered after the transaction commits (above).
CREATE FUNCTION events_append(kind text, post bigint, notification bigint, recipient bigint, top boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (type, post_id, notification_id, user_id, top_level)
    VALUES (kind, post, notification, recipient, top);
END $$;

-- A new post, an edit of a live post, a soft delete.
CREATE FUNCTION posts_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM events_append('post', NEW.id, NULL, NEW.user_id, NEW.parent_id IS NULL);
    ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        PERFORM events_append('post.delete', NEW.id, NULL, NEW.user_id, NEW.parent_id IS NULL);
    ELSIF NEW.deleted_at IS NULL AND NEW.text IS DISTINCT FROM OLD.text THEN
        PERFORM events_append('post.update', NEW.id, NULL, NEW.user_id, NEW.parent_id IS NULL);
    END IF;
    RETURN NULL;
END $$;

-- Named to fire before posts_notify (triggers fire in name order), so a
-- post's event precedes the notifications about it.
CREATE TRIGGER posts_event AFTER INSERT OR UPDATE OF text, deleted_at ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_event();

CREATE FUNCTION notifications_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM events_append('notification', NEW.post_id, NEW.id, NEW.user_id, false);
    RETURN NULL;
END $$;

CREATE TRIGGER notifications_event AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_event();

-- One-time stream tickets: browsers cannot set headers on a WebSocket, and
-- access tokens never go in URLs. Only the SHA-256 of a ticket is stored; a
-- ticket is redeemed by deleting its row, so it works once, on any instance.
CREATE TABLE stream_tickets (
    ticket_hash       bytea       NOT NULL,
    user_id           bigint      NOT NULL,
    username          text        NOT NULL,
    -- When the access token the ticket was issued for expires.
    access_expires_at timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    CONSTRAINT stream_tickets_pkey PRIMARY KEY (ticket_hash),
    CONSTRAINT stream_tickets_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
