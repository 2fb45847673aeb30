-- pamps schema: users, posts (threads through parent_id), follows, likes and
-- the refresh tokens that make rotation, reuse detection and logout work.
--
-- Counters (likes, replies, followers, following, posts) are kept by triggers
-- in the same transaction as the row they count, so they stay exact under
-- concurrent writes and list queries never count per row.
-- Every list is keyset-paginated on an identity column; each has an index
-- that serves its WHERE and ORDER BY.

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    username        text        NOT NULL,
    email           text        NOT NULL,
    password_hash   text        NOT NULL,
    avatar          text,
    bio             text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    followers_count integer     NOT NULL DEFAULT 0,
    following_count integer     NOT NULL DEFAULT 0,
    posts_count     integer     NOT NULL DEFAULT 0,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z][A-Za-z0-9_]{2,31}$'),
    CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_bio_length CHECK (char_length(bio) <= 500),
    CONSTRAINT users_avatar_length CHECK (char_length(avatar) <= 2048)
);
-- Case-insensitive uniqueness; the index names are the constraint names the
-- application maps to 409.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE posts (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    user_id     bigint      NOT NULL,
    parent_id   bigint,
    text        text        NOT NULL,
    date        timestamptz NOT NULL DEFAULT now(),
    edited_at   timestamptz,
    -- Deleted posts stay as tombstones so their replies keep their parent_id
    -- and never turn into top-level posts.
    deleted_at  timestamptz,
    like_count  integer     NOT NULL DEFAULT 0,
    reply_count integer     NOT NULL DEFAULT 0,
    CONSTRAINT posts_pkey PRIMARY KEY (id),
    CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT posts_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT posts_text_length CHECK (
        deleted_at IS NOT NULL OR char_length(text) BETWEEN 1 AND 280
    )
);
-- GET /post/ (top-level, asc or desc)
CREATE INDEX posts_top_level_idx ON posts (id) WHERE parent_id IS NULL AND deleted_at IS NULL;
-- GET /post/user/{username}/?include_replies=true, and the timeline
CREATE INDEX posts_user_idx ON posts (user_id, id) WHERE deleted_at IS NULL;
-- GET /post/user/{username}/ (top-level only)
CREATE INDEX posts_user_top_level_idx ON posts (user_id, id)
    WHERE parent_id IS NULL AND deleted_at IS NULL;
-- replies of a post
CREATE INDEX posts_parent_idx ON posts (parent_id, id) WHERE deleted_at IS NULL;

CREATE TABLE follows (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    follower_id bigint      NOT NULL,
    followee_id bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT follows_pkey PRIMARY KEY (follower_id, followee_id),
    CONSTRAINT follows_id_key UNIQUE (id),
    CONSTRAINT follows_follower_id_fkey FOREIGN KEY (follower_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT follows_followee_id_fkey FOREIGN KEY (followee_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT follows_not_self CHECK (follower_id <> followee_id)
);
-- GET /user/{username}/followers/ (most recent first)
CREATE INDEX follows_followee_idx ON follows (followee_id, id);
-- GET /user/{username}/following/ (most recent first)
CREATE INDEX follows_follower_idx ON follows (follower_id, id);

CREATE TABLE likes (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL,
    post_id    bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT likes_pkey PRIMARY KEY (user_id, post_id),
    CONSTRAINT likes_id_key UNIQUE (id),
    CONSTRAINT likes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT likes_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
);
-- GET /post/likes/{username}/ (most recent like first)
CREATE INDEX likes_user_idx ON likes (user_id, id);
CREATE INDEX likes_post_idx ON likes (post_id);

-- One row per issued refresh token. A login starts a family; each refresh
-- marks its token used and issues the next one in the same family. Presenting
-- a used token again revokes the whole family (theft detection).
CREATE TABLE refresh_tokens (
    jti        uuid        NOT NULL,
    family_id  uuid        NOT NULL,
    user_id    bigint      NOT NULL,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (jti),
    CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Counter triggers ------------------------------------------------------------

-- A post counts while it is not deleted: insert and soft delete move the
-- author's posts_count and the parent's reply_count.
CREATE FUNCTION posts_maintain_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        delta := 1;
    ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        delta := -1;
    ELSE
        RETURN NULL;
    END IF;
    -- Parent before author: the same lock order as deleting a post (which
    -- locks the post, then its author), so the two cannot deadlock.
    IF NEW.parent_id IS NOT NULL THEN
        UPDATE posts SET reply_count = reply_count + delta WHERE id = NEW.parent_id;
    END IF;
    UPDATE users SET posts_count = posts_count + delta WHERE id = NEW.user_id;
    RETURN NULL;
END $$;

CREATE TRIGGER posts_count_insert AFTER INSERT ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_maintain_counts();
CREATE TRIGGER posts_count_delete AFTER UPDATE OF deleted_at ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_maintain_counts();

CREATE FUNCTION likes_maintain_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE posts SET like_count = like_count + 1 WHERE id = NEW.post_id;
    ELSE
        UPDATE posts SET like_count = like_count - 1 WHERE id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER likes_count AFTER INSERT OR DELETE ON likes
    FOR EACH ROW EXECUTE FUNCTION likes_maintain_counts();

-- Both users are updated in one statement, locked in id order, so A following
-- B while B follows A cannot deadlock.
CREATE FUNCTION follows_maintain_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f bigint;
    t bigint;
    delta integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        f := NEW.follower_id; t := NEW.followee_id; delta := 1;
    ELSE
        f := OLD.follower_id; t := OLD.followee_id; delta := -1;
    END IF;
    -- NO KEY UPDATE: compatible with the KEY SHARE locks of concurrent FK checks.
    PERFORM 1 FROM users WHERE id IN (f, t) ORDER BY id FOR NO KEY UPDATE;
    UPDATE users
       SET following_count = following_count + CASE WHEN id = f THEN delta ELSE 0 END,
           followers_count = followers_count + CASE WHEN id = t THEN delta ELSE 0 END
     WHERE id IN (f, t);
    RETURN NULL;
END $$;

CREATE TRIGGER follows_count AFTER INSERT OR DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION follows_maintain_counts();
