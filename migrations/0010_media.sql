-- Pictures: uploads for posts (up to 4 each), avatars and headers.
--
-- A row holds two stored files, both re-encoded by the server: the picture
-- (`file_key`) and its thumbnail (`preview_key`), under random names. An
-- upload is unattached (`post_id` null) until a post takes it; the sweeper
-- deletes unattached post uploads after a day. Whenever a row goes (its post
-- deleted, its owner deleted, swept, replaced as avatar), a trigger queues
-- its files in `media_trash`, so no path of deletion can leave files behind;
-- the sweeper (and a post's delete at once) removes the queued files.

CREATE TABLE media (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    user_id      bigint      NOT NULL,
    post_id      bigint,
    -- What the picture is for: a post, or the owner's avatar or header.
    purpose      text        NOT NULL DEFAULT 'post',
    -- Order among a post's pictures (0..3), set when attached.
    position     smallint,
    file_key     text        NOT NULL,
    preview_key  text        NOT NULL,
    content_type text        NOT NULL,
    width        integer     NOT NULL,
    height       integer     NOT NULL,
    small_width  integer     NOT NULL,
    small_height integer     NOT NULL,
    blurhash     text        NOT NULL,
    -- Alt text.
    description  text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT media_pkey PRIMARY KEY (id),
    CONSTRAINT media_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT media_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT media_purpose CHECK (purpose IN ('post', 'avatar', 'header')),
    CONSTRAINT media_attached_to_post CHECK (post_id IS NULL OR purpose = 'post'),
    CONSTRAINT media_position_range CHECK (position BETWEEN 0 AND 3),
    CONSTRAINT media_description_length CHECK (char_length(description) <= 1500),
    CONSTRAINT media_file_key_key UNIQUE (file_key)
);
-- A post's pictures in order; the unique index also caps a post at 4.
CREATE UNIQUE INDEX media_post_position_key ON media (post_id, position) WHERE post_id IS NOT NULL;
-- The sweep of unattached post uploads, oldest first.
CREATE INDEX media_unattached_idx ON media (created_at) WHERE post_id IS NULL AND purpose = 'post';
-- An owner's uploads (attaching checks them; a deleted account's go by cascade).
CREATE INDEX media_user_idx ON media (user_id);

-- Stored files whose row is gone, waiting to be removed from the store.
CREATE TABLE media_trash (
    file_key   text        NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT media_trash_pkey PRIMARY KEY (file_key)
);

CREATE FUNCTION media_queue_files() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media_trash (file_key) VALUES (OLD.file_key), (OLD.preview_key)
        ON CONFLICT DO NOTHING;
    RETURN OLD;
END $$;
CREATE TRIGGER media_queue_files AFTER DELETE ON media
    FOR EACH ROW EXECUTE FUNCTION media_queue_files();

-- Posts are soft-deleted (tombstones keep threads together): their pictures
-- go when the tombstone is made.
CREATE FUNCTION media_drop_with_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM media WHERE post_id = NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER media_drop_with_post AFTER UPDATE OF deleted_at ON posts
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION media_drop_with_post();

ALTER TABLE users ADD COLUMN header text,
    ADD CONSTRAINT users_header_length CHECK (char_length(header) <= 2048);
