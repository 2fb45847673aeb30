-- What the Mastodon client API adds to accounts and posts (issue 18):
-- a display name, a content warning, the sensitive flag, a language, the
-- edit history, and idempotency keys for a retried create.

-- Empty means "show the username" (Mastodon's display_name falls back to it).
ALTER TABLE users ADD COLUMN display_name text NOT NULL DEFAULT '',
    ADD CONSTRAINT users_display_name_length CHECK (char_length(display_name) <= 30);

ALTER TABLE posts ADD COLUMN spoiler_text text NOT NULL DEFAULT '',
    ADD COLUMN sensitive boolean NOT NULL DEFAULT false,
    -- ISO 639-1, or null when not given.
    ADD COLUMN language text,
    ADD CONSTRAINT posts_spoiler_text_length CHECK (char_length(spoiler_text) <= 280),
    ADD CONSTRAINT posts_language_code CHECK (language ~ '^[a-z]{2}$');

-- Earlier versions of an edited post, each as it was from `created_at` (the
-- post's date, or the edit that made it) until the next edit. The current
-- version is the post itself.
CREATE TABLE post_edits (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    post_id      bigint      NOT NULL,
    text         text        NOT NULL,
    spoiler_text text        NOT NULL,
    sensitive    boolean     NOT NULL,
    created_at   timestamptz NOT NULL,
    CONSTRAINT post_edits_pkey PRIMARY KEY (id),
    CONSTRAINT post_edits_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
);
-- GET /api/v1/statuses/{id}/history
CREATE INDEX post_edits_post_idx ON post_edits (post_id, id);

-- A deleted post's text is erased; so are its earlier versions.
CREATE FUNCTION post_edits_drop_with_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM post_edits WHERE post_id = NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER post_edits_drop_with_post AFTER UPDATE OF deleted_at ON posts
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION post_edits_drop_with_post();

-- `Idempotency-Key` of POST /api/v1/statuses: a retried create returns the
-- post the first one made. The key row is inserted before the post, in the
-- same transaction, so a concurrent retry waits on the unique key and then
-- finds the post.
CREATE TABLE idempotency_keys (
    user_id    bigint      NOT NULL,
    key        text        NOT NULL,
    post_id    bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT idempotency_keys_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 256)
);
