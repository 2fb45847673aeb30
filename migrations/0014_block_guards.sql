-- A block and the writes between its two accounts take turns.
--
-- A reply, like or repost checks the block in its own statement, and a
-- mention notification in its trigger, each in a snapshot taken when the
-- statement began: a block committed while the statement ran was not seen,
-- and the write landed after the block. Now every such write takes a shared
-- transaction-level advisory lock on the pair (reentrant: a like and its
-- notification share one) and then reads the blocks afresh; a block takes
-- the same lock exclusively. So a block waits for the writes between the
-- two that are in flight to commit, and a write that starts meanwhile waits
-- for the block and then sees it. A refused reply, like or repost is an
-- error naming a constraint the actions map to a 403; a notification across
-- a block is skipped, as `posts_notify` already skips mentions.
--
-- Lock order, so no two of these deadlock: the pair's advisory lock before
-- any user row lock. A block and a follow take it before locking both users
-- (`domain::privacy::lock_pair`); a post takes it for its parent's author
-- and everyone it mentions in a BEFORE trigger, before `posts_count_insert`
-- locks its author's row; likes and reposts lock no user row (the active
-- guards of 0013 take KEY SHARE, which a block's NO KEY UPDATE does not
-- wait for).
--
-- Each lock is held until its transaction ends: one per pair written, a few
-- per request. A bulk load of many such rows in one transaction would fill
-- the lock table; bulk loads disable the triggers (as `pamps seed` does).

-- The advisory lock key of a pair of accounts, the same either way round.
-- A collision with another pair (or another advisory key) only makes two
-- unrelated transactions take turns.
CREATE FUNCTION block_pair_key(a bigint, b bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT hashtextextended('pamps_block ' || least(a, b) || ' ' || greatest(a, b), 0)
$$;

-- Takes a pair's lock: exclusively for a block, shared for a write.
CREATE FUNCTION lock_block_pair(a bigint, b bigint, exclusive boolean)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF a IS NULL OR b IS NULL OR a = b THEN
        RETURN;
    END IF;
    IF exclusive THEN
        PERFORM pg_advisory_xact_lock(block_pair_key(a, b));
    ELSE
        PERFORM pg_advisory_xact_lock_shared(block_pair_key(a, b));
    END IF;
END $$;

-- Whether a write between `a` and `b` may go ahead: takes the pair's shared
-- lock, then reads the blocks. VOLATILE on purpose: under READ COMMITTED
-- each query in it takes a new snapshot, so it sees every block that
-- committed before the lock was granted.
CREATE FUNCTION unblocked_for_write(a bigint, b bigint)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF a IS NULL OR b IS NULL OR a = b THEN
        RETURN true;
    END IF;
    PERFORM lock_block_pair(a, b, false);
    RETURN NOT EXISTS (SELECT 1 FROM blocks
                        WHERE (blocker_id = a AND blocked_id = b)
                           OR (blocker_id = b AND blocked_id = a));
END $$;

-- Every block takes its pair's lock, whoever inserts it (domain::privacy
-- takes it first, before the users' rows; here it is then reentrant).
CREATE FUNCTION blocks_lock_pair() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lock_block_pair(NEW.blocker_id, NEW.blocked_id, true);
    RETURN NEW;
END $$;
CREATE TRIGGER blocks_lock_pair BEFORE INSERT ON blocks
    FOR EACH ROW EXECUTE FUNCTION blocks_lock_pair();

-- A like or repost (the actor in user_id, the post in post_id) across a
-- block is refused. Argument: the constraint to report.
CREATE FUNCTION refuse_across_block() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    author bigint;
BEGIN
    SELECT p.user_id INTO author FROM posts p WHERE p.id = NEW.post_id;
    IF NOT unblocked_for_write(NEW.user_id, author) THEN
        RAISE EXCEPTION 'user % and user % block each other', NEW.user_id, author
            USING ERRCODE = 'check_violation', CONSTRAINT = TG_ARGV[0];
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER likes_not_blocked BEFORE INSERT ON likes
    FOR EACH ROW EXECUTE FUNCTION refuse_across_block('likes_not_blocked');
CREATE TRIGGER reposts_not_blocked BEFORE INSERT ON reposts
    FOR EACH ROW EXECUTE FUNCTION refuse_across_block('reposts_not_blocked');

-- A post: a reply across a block is refused; the pairs with everyone it
-- mentions are locked now, so its mention notifications (written by
-- `posts_notify` after its author's row is locked) find their locks held.
CREATE FUNCTION posts_not_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    author bigint;
BEGIN
    IF NEW.parent_id IS NOT NULL THEN
        SELECT p.user_id INTO author FROM posts p WHERE p.id = NEW.parent_id;
        IF NOT unblocked_for_write(NEW.user_id, author) THEN
            RAISE EXCEPTION 'user % and user % block each other', NEW.user_id, author
                USING ERRCODE = 'check_violation', CONSTRAINT = 'posts_parent_not_blocked';
        END IF;
    END IF;
    PERFORM lock_block_pair(NEW.user_id, m, false)
       FROM unnest(NEW.mentioned) AS m ORDER BY m;
    RETURN NEW;
END $$;
CREATE TRIGGER posts_not_blocked BEFORE INSERT ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_not_blocked();

-- A notification across a block (a mention, or any other kind) is skipped.
CREATE FUNCTION notifications_not_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT unblocked_for_write(NEW.user_id, NEW.actor_id) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER notifications_not_blocked BEFORE INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_not_blocked();
