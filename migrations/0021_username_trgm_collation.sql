-- Lookups by name (`lower(username) = $1`: profiles, logins, mentions, the
-- Mastodon account and status rendering) were planned on the trigram GiST
-- index of 0009, which answers `=` too since PostgreSQL 14 and ties with the
-- unique B-tree on cost: 0.5-8 ms and ~76 buffers per lookup at 100k users
-- instead of ~0.03 ms. The trigram index now carries the "C" collation, so
-- only expressions that ask for it (account search's `<->`, written
-- `lower(username) COLLATE "C"`) can use it; equality keeps the B-trees.
DROP INDEX users_username_trgm_idx;
CREATE INDEX users_username_trgm_idx ON users USING gist ((lower(username) COLLATE "C") gist_trgm_ops);
