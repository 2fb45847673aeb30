-- `hashtags_recount()` (what `pamps seed` runs after its bulk load) called
-- `hashtags_counted` and `post_hashtags` on every post: 14 s of the 1M-post
-- seed. A post without '#' has no hashtag, so the cheap `strpos` test now
-- comes first (the planner orders it before the costlier functions); the
-- counts are unchanged.
CREATE OR REPLACE FUNCTION hashtags_recount() RETURNS void LANGUAGE sql AS $$
    UPDATE hashtags SET uses = 0 WHERE uses <> 0;
    INSERT INTO hashtags AS h (tag, uses)
    SELECT t.tag, count(*)
      FROM posts p CROSS JOIN LATERAL unnest(post_hashtags(p.text)) AS t (tag)
     WHERE strpos(p.text, '#') > 0 AND hashtags_counted(p)
     GROUP BY t.tag
     ORDER BY t.tag
        ON CONFLICT (tag) DO UPDATE SET uses = EXCLUDED.uses;
$$;
