-- The live stream's drain asks, for every batch of events, which of the
-- connected users follow, block or mute the batch's authors
-- (src/bus/relations.rs). It asked from the users' side: per connected
-- user, one probe of each relation, and the follows probe read all of that
-- user's follows (1,000 connected followers of one author at 88 follows
-- each: 7,154 buffers, 7 ms). It now asks from the authors' side, which
-- these indexes serve: a followers list covers `follower_id` (an index-only
-- scan, still in `id` order for the lists), and mutes are found by the
-- muted account.
DROP INDEX follows_followee_idx;
CREATE INDEX follows_followee_idx ON follows (followee_id, id) INCLUDE (follower_id);
CREATE INDEX mutes_muted_idx ON mutes (muted_id, muter_id);
