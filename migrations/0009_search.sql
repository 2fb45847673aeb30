-- Search (posts, accounts, hashtags), hashtag timelines and "who to follow".

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The hashtag rule, the copy of `validation::hashtags` that SQL needs
-- (tests/api/hashtag_rule.rs keeps it, the Rust one and the web client's
-- `HASHTAG` agreeing): a `#` not preceded by a word character or `#`, then a
-- run of letters, digits and `_` that is not only ASCII digits and `_`.
-- Lower-cased, each tag once, in order of first use. Word characters are the
-- database's LC_CTYPE's: any UTF-8 locale (C.UTF-8, en_US.UTF-8) knows every
-- script; plain `C` knows only ASCII.
CREATE FUNCTION post_hashtags(body text)
RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(t.tag ORDER BY t.ord), '{}')
      FROM (SELECT lower(m.match[1]) AS tag, min(m.ord) AS ord
              FROM regexp_matches(body, '(?<![[:alnum:]_#])#([[:alnum:]_]+)', 'g')
                   WITH ORDINALITY AS m (match, ord)
             WHERE m.match[1] ~ '[^0-9_]'
             GROUP BY 1) t
$$;

-- GET /post/tag/{tag}/: live posts carrying a tag.
CREATE INDEX posts_hashtags_idx ON posts USING gin (post_hashtags(text))
    WHERE deleted_at IS NULL;

-- GET /search/posts/: full-text search with the language-neutral 'simple'
-- configuration (lower-cased words, no stemming, no stop words), so text in
-- any language is found by its words. Stored rather than an expression
-- index: a common word matches a large share of all posts, and filtering
-- and ranking candidates then read the vector instead of parsing each text
-- again (bench/search-results.md: 6 ms instead of 155 ms p50 for one common
-- word at 1M posts); a real
-- column also gives the planner word statistics. PostgreSQL computes it on
-- every insert and edit; a tombstone's empty text has an empty vector.
ALTER TABLE posts ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;
CREATE INDEX posts_search_idx ON posts USING gin (search);

-- GET /search/accounts/: username prefix (text_pattern_ops: byte order,
-- whatever the collation) and nearest by trigram similarity (GiST answers
-- `ORDER BY ... <-> q LIMIT n` without ranking every user).
CREATE INDEX users_username_prefix_idx ON users (lower(username) text_pattern_ops);
CREATE INDEX users_username_trgm_idx ON users USING gist (lower(username) gist_trgm_ops);

-- GET /user/suggestions/: the most followed accounts, for someone whose
-- follows have nobody to suggest.
CREATE INDEX users_popular_idx ON users (followers_count DESC, id);

-- Every hashtag used by a live post, with how many live posts use it, for
-- GET /search/hashtags/. Kept by `hashtags_count` below; `hashtags_recount()`
-- rebuilds the counts from the posts (after a bulk load that bypassed the
-- trigger, such as `pamps seed`).
CREATE TABLE hashtags (
    id   bigint  GENERATED ALWAYS AS IDENTITY,
    tag  text    COLLATE "C" NOT NULL,
    uses integer NOT NULL DEFAULT 0,
    CONSTRAINT hashtags_pkey PRIMARY KEY (id),
    CONSTRAINT hashtags_tag_key UNIQUE (tag)
);
-- Prefix lookups order by count: `tag` in byte order (COLLATE "C"), so the
-- unique index answers `tag >= prefix AND tag < prefix || U+10FFFF`.

-- A post's tags are counted while it is live: an insert adds its tags, an
-- edit the difference, a delete (soft or hard) removes them. One statement
-- in tag order, so concurrent posts lock shared tags in the same order and
-- cannot deadlock.
CREATE FUNCTION hashtags_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text[] := '{}';
    after  text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
        before := post_hashtags(OLD.text);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
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

CREATE TRIGGER posts_hashtags_count
    AFTER INSERT OR DELETE OR UPDATE OF text, deleted_at ON posts
    FOR EACH ROW EXECUTE FUNCTION hashtags_count();

CREATE FUNCTION hashtags_recount() RETURNS void LANGUAGE sql AS $$
    UPDATE hashtags SET uses = 0 WHERE uses <> 0;
    INSERT INTO hashtags AS h (tag, uses)
    SELECT t.tag, count(*)
      FROM posts p CROSS JOIN LATERAL unnest(post_hashtags(p.text)) AS t (tag)
     WHERE p.deleted_at IS NULL
     GROUP BY t.tag
     ORDER BY t.tag
        ON CONFLICT (tag) DO UPDATE SET uses = EXCLUDED.uses;
$$;

SELECT hashtags_recount();
