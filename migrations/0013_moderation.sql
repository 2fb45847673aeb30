-- Roles, reports, suspension, the moderation audit log, and leaving.
--
-- A suspended account (`suspended_at`) cannot log in and its tokens stop
-- working; a deleted account (`deleted_at`) stays as an anonymised row so
-- its posts remain as tombstones (replies keep their parent_id). Both end
-- every session at once: the same `pamps_sessions` signal as a password
-- change (migration 0004). The "privacy" migration may add `suspended_at`
-- first; either order works.

ALTER TABLE users ADD COLUMN IF NOT EXISTS suspended_at timestamptz;
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user'
    CONSTRAINT users_role_check CHECK (role IN ('user', 'moderator', 'admin'));

CREATE TRIGGER users_session_end_suspend AFTER UPDATE OF suspended_at ON users
    FOR EACH ROW WHEN (OLD.suspended_at IS NULL AND NEW.suspended_at IS NOT NULL)
    EXECUTE FUNCTION users_signal_session_end();

-- Writes by an account that is suspended or deleted are refused, also when
-- the request was authenticated just before: the KEY SHARE lock here waits
-- for a suspension or deletion in progress (which locks the user FOR UPDATE)
-- and then sees its result. The error names the foreign key the actions
-- already map (a 401 for the actor, a 404 for a followee gone).
-- Arguments: the column of NEW, the constraint to report, and whether a
-- suspended account is refused too ('active') or only a deleted one ('present').
CREATE FUNCTION users_require_active() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who bigint := (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
BEGIN
    PERFORM 1 FROM users u
      WHERE u.id = who AND u.deleted_at IS NULL
        AND (TG_ARGV[2] = 'present' OR u.suspended_at IS NULL)
        FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % is suspended or deleted', who
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_ARGV[1];
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER posts_author_active BEFORE INSERT ON posts FOR EACH ROW
    EXECUTE FUNCTION users_require_active('user_id', 'posts_user_id_fkey', 'active');
CREATE TRIGGER likes_liker_active BEFORE INSERT ON likes FOR EACH ROW
    EXECUTE FUNCTION users_require_active('user_id', 'likes_user_id_fkey', 'active');
CREATE TRIGGER follows_follower_active BEFORE INSERT ON follows FOR EACH ROW
    EXECUTE FUNCTION users_require_active('follower_id', 'follows_follower_id_fkey', 'active');
CREATE TRIGGER follows_followee_present BEFORE INSERT ON follows FOR EACH ROW
    EXECUTE FUNCTION users_require_active('followee_id', 'follows_followee_id_fkey', 'present');

-- Reports: an account, optionally with some of its posts, and a reason.
CREATE TABLE reports (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    -- Null once the reporter deleted their account (the report stays).
    reporter_id bigint,
    target_id   bigint      NOT NULL,
    post_ids    bigint[]    NOT NULL DEFAULT '{}',
    reason      text        NOT NULL,
    status      text        NOT NULL DEFAULT 'open',
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by bigint,
    CONSTRAINT reports_pkey PRIMARY KEY (id),
    CONSTRAINT reports_reporter_id_fkey FOREIGN KEY (reporter_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT reports_target_id_fkey FOREIGN KEY (target_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT reports_resolved_by_fkey FOREIGN KEY (resolved_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT reports_status_check CHECK (status IN ('open', 'resolved')),
    CONSTRAINT reports_reason_length CHECK (char_length(reason) BETWEEN 1 AND 1000),
    CONSTRAINT reports_post_count CHECK (cardinality(post_ids) <= 10)
);
-- GET /moderation/reports/?status=… (keyset on id)
CREATE INDEX reports_status_idx ON reports (status, id);

-- Every moderation action, kept for admins.
CREATE TABLE moderation_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    -- Null: the command line (`pamps role`), or an account since deleted.
    actor_id    bigint,
    action      text        NOT NULL,
    target_user bigint,
    target_post bigint,
    report_id   bigint,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT moderation_log_pkey PRIMARY KEY (id),
    CONSTRAINT moderation_log_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT moderation_log_action_check CHECK (
        action IN ('resolve', 'delete_post', 'suspend', 'unsuspend', 'role'))
);
