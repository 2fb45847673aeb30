-- Hashtag use counts (GET /search/hashtags/) count only the posts the
-- hashtag timeline lists to everyone: live `public` posts by authors who are
-- not suspended. An unlisted, followers-only or direct post's tags were
-- counted before, so a count could tell that a hidden post used a tag (a
-- rare tag's count going from 0 to 1 says someone just wrote it).
--
-- A post's level never changes after it is written, so the post triggers
-- need only read it; a suspension takes the author's public posts' tags
-- out of the counts and lifting it puts them back (`users_hashtags_count`).
-- An account removed by SQL while suspended gets its tags back first, so
-- the posts' removal then subtracts them once (`users_hashtags_uncount`).

-- Whether a post's tags count: live, public, its author not suspended.
CREATE FUNCTION hashtags_counted(p posts)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p.deleted_at IS NULL AND p.visibility = 'public'
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p.user_id AND u.suspended_at IS NOT NULL)
$$;

-- Adds `delta` uses to each tag in `tags` (in tag order, so concurrent
-- writers lock shared tags in one order and cannot deadlock).
CREATE FUNCTION hashtags_add(tags text[], delta integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO hashtags AS h (tag, uses)
    SELECT d.tag, sum(d.n)::integer * delta
      FROM (SELECT unnest(tags) AS tag, 1 AS n) d
     GROUP BY d.tag
     ORDER BY d.tag
        ON CONFLICT (tag) DO UPDATE SET uses = h.uses + EXCLUDED.uses;
$$;

CREATE OR REPLACE FUNCTION hashtags_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text[] := '{}';
    after  text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' AND hashtags_counted(OLD) THEN
        before := post_hashtags(OLD.text);
    END IF;
    IF TG_OP <> 'DELETE' AND hashtags_counted(NEW) THEN
        after := post_hashtags(NEW.text);
    END IF;
    IF before = after THEN
        RETURN NULL;
    END IF;
    INSERT INTO hashtags AS h (tag, uses)
    SELECT d.tag, d.delta
      FROM (SELECT x.tag, sum(x.delta)::integer AS delta
              FROM (SELECT unnest(after) AS tag, 1 AS delta
                    UNION ALL
                    SELECT unnest(before), -1) x
             GROUP BY x.tag) d
     WHERE d.delta <> 0
     ORDER BY d.tag
        ON CONFLICT (tag) DO UPDATE SET uses = h.uses + EXCLUDED.uses;
    RETURN NULL;
END
$$;

DROP TRIGGER posts_hashtags_count ON posts;
CREATE TRIGGER posts_hashtags_count
    AFTER INSERT OR DELETE OR UPDATE OF text, deleted_at, visibility ON posts
    FOR EACH ROW EXECUTE FUNCTION hashtags_count();

-- The tags of `author`'s counted posts (live and public), one entry per use.
CREATE FUNCTION hashtags_of_author(author bigint)
RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(t.tag), '{}')
      FROM posts p CROSS JOIN LATERAL unnest(post_hashtags(p.text)) AS t (tag)
     WHERE p.user_id = author AND p.deleted_at IS NULL AND p.visibility = 'public'
$$;

CREATE FUNCTION users_hashtags_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hashtags_add(hashtags_of_author(NEW.id),
                         CASE WHEN NEW.suspended_at IS NULL THEN 1 ELSE -1 END);
    RETURN NULL;
END $$;
CREATE TRIGGER users_hashtags_count AFTER UPDATE OF suspended_at ON users
    FOR EACH ROW WHEN ((OLD.suspended_at IS NULL) <> (NEW.suspended_at IS NULL))
    EXECUTE FUNCTION users_hashtags_count();

CREATE FUNCTION users_hashtags_uncount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hashtags_add(hashtags_of_author(OLD.id), 1);
    RETURN OLD;
END $$;
CREATE TRIGGER users_hashtags_uncount BEFORE DELETE ON users
    FOR EACH ROW WHEN (OLD.suspended_at IS NOT NULL)
    EXECUTE FUNCTION users_hashtags_uncount();

CREATE OR REPLACE FUNCTION hashtags_recount() RETURNS void LANGUAGE sql AS $$
    UPDATE hashtags SET uses = 0 WHERE uses <> 0;
    INSERT INTO hashtags AS h (tag, uses)
    SELECT t.tag, count(*)
      FROM posts p CROSS JOIN LATERAL unnest(post_hashtags(p.text)) AS t (tag)
     WHERE hashtags_counted(p)
     GROUP BY t.tag
     ORDER BY t.tag
        ON CONFLICT (tag) DO UPDATE SET uses = EXCLUDED.uses;
$$;

SELECT hashtags_recount();
