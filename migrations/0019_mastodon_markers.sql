-- The Mastodon API's read markers (`/api/v1/markers`). The notifications
-- marker's position is pamps' own read marker (notification_reads); this
-- table keeps the home marker's position and each marker's version and time.
CREATE TABLE mastodon_markers (
    user_id      bigint      NOT NULL,
    timeline     text        NOT NULL,
    last_read_id bigint      NOT NULL,
    version      integer     NOT NULL DEFAULT 1,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mastodon_markers_pkey PRIMARY KEY (user_id, timeline),
    CONSTRAINT mastodon_markers_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT mastodon_markers_timeline CHECK (timeline IN ('home', 'notifications'))
);
