#!/usr/bin/env bash
# EXPLAIN (ANALYZE, BUFFERS) of each list query pamps issues, on a large seeded
# database; the evidence behind docs/performance.md.
#   bench/explain.sh                 on pamps_bench_large (seeded first if missing)
#   DB=other bench/explain.sh        on another database of the same server
# Environment: BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432),
#   PLANS (full plans, default bench/explain-plans.txt), TIMING_SECONDS=5.
# Prints a markdown table: per query its parameters, the execution time (warm,
# after a few runs) of the custom plan (a prepared statement's first runs) and of the generic plan
# (what PostgreSQL may switch to after five runs), the scans used, and whether
# posts, follows or likes is read by a Seq Scan. Then it times the timeline
# page (the current SQL and the naive join it replaced) with pgbench, as the app runs it: prepared.
# The timeline's SQL is the app's own, printed by bench/sql.rs (so it is
# always the current query); the other queries are copied from src/models/*.rs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_URL=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
DB=${DB:-pamps_bench_large}
PLANS=${PLANS:-$ROOT/bench/explain-plans.txt}
TIMING_SECONDS=${TIMING_SECONDS:-5}
MAX=9223372036854775807
MIN=-9223372036854775808
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

die() { printf 'bench/explain.sh: %s\n' "$*" >&2; exit 1; }
sql() { psql "$PG_URL/$DB" -XqAt -v ON_ERROR_STOP=1 -c "$1"; }

seed_if_missing() {
  if [[ $(psql "$PG_URL/postgres" -XqAt -c "SELECT count(*) FROM pg_database WHERE datname = '$DB'") == 1 ]] &&
    [[ $(sql "SELECT count(*) >= 1000000 FROM posts" 2>/dev/null) == t ]]; then
    return
  fi
  [[ $DB == pamps_bench_large ]] || die "$DB does not hold a seeded large data set"
  echo "seeding $DB (100k users, 1M posts, about a minute)" >&2
  [[ -x $ROOT/target/release/pamps ]] || (cd "$ROOT" && cargo build --release --quiet)
  psql "$PG_URL/postgres" -XqAt -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
  PAMPS_ENV=development PAMPS_DB__URI="$PG_URL/$DB" "$ROOT/target/release/pamps" seed \
    --users 100000 --posts 1000000 --follows-per-user 20 --likes 2000000 >&2
}

# The columns of a Post ($1 = viewer), as post_select! in src/models/post.rs.
POST_SELECT="SELECT p.id, p.text, p.date, p.user_id, u.username, p.parent_id,
       p.like_count, p.reply_count, p.edited_at,
       CASE WHEN \$1::bigint IS NULL THEN NULL
            ELSE EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = \$1)
       END AS liked, p.id AS cursor
  FROM posts p JOIN users u ON u.id = p.user_id"
USER_SELECT="SELECT u.id, u.username, u.avatar, u.bio, u.created_at"
# The timeline before the two-phase rewrite, kept for comparison (a naive
# join, without the visibility rule, mutes or reposts: a lower bound for
# that design). $4 (include own posts) is unused, so both take the same
# parameters.
TIMELINE_BEFORE="$POST_SELECT
  JOIN follows f ON f.followee_id = p.user_id
 WHERE f.follower_id = \$1 AND p.deleted_at IS NULL AND p.id < \$2 AND \$4 IS NOT NULL
 ORDER BY p.id DESC LIMIT \$3"
# As the app runs it (models::post::TIMELINE_SQL): $1 viewer, $2 cursor,
# $3 page size + 1, $4 whether the viewer's own posts count. Set in main.
TIMELINE=

ROWS=()

# q NAME TYPES ARGS SQL: explains one prepared query with both plan kinds.
q() {
  local name=$1 types=$2 args=$3 query=$4 out custom generic scans seq
  out=$(psql "$PG_URL/$DB" -XqAt -v ON_ERROR_STOP=1 <<EOF
PREPARE q($types) AS $query;
SET plan_cache_mode = force_custom_plan;
\o /dev/null
EXECUTE q($args);
EXECUTE q($args);
EXECUTE q($args);
\o
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q($args);
\echo GENERIC-PLAN-MARKER
SET plan_cache_mode = force_generic_plan;
\o /dev/null
EXECUTE q($args);
EXECUTE q($args);
\o
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q($args);
EOF
  )
  {
    printf '### %s  (%s)\n\n-- custom plan\n' "$name" "$args"
    printf '%s\n\n' "${out/GENERIC-PLAN-MARKER/$'\n'-- generic plan}"
  } >>"$PLANS"
  custom=$(sed -n '1,/GENERIC-PLAN-MARKER/s/^Execution Time: \(.*\) ms$/\1/p' <<<"$out")
  generic=$(sed -n '/GENERIC-PLAN-MARKER/,$s/^Execution Time: \(.*\) ms$/\1/p' <<<"$out")
  scans=$(grep -oE '(Seq Scan on|Index Only Scan( Backward)? using|Index Scan( Backward)? using|Bitmap Index Scan on) [a-z_]+' <<<"$out" |
    sed -E 's/^Index Only Scan/IOS/; s/^Index Scan/IS/; s/^Bitmap Index Scan on/BIS/; s/ using / /' |
    sort -u | paste -sd ',' | sed 's/,/, /g')
  if grep -qE 'Seq Scan on (posts|follows|likes)' <<<"$out"; then seq=YES; else seq=no; fi
  if grep -q '^JIT:' <<<"${out#*GENERIC-PLAN-MARKER}"; then generic="$generic (JIT)"; fi
  ROWS+=("| $name | $args | $custom | $generic | $scans | $seq |")
  printf '%-44s custom %8s ms  generic %8s ms  seq scan: %s\n' "$name" "$custom" "$generic" "$seq" >&2
}

# auto_plan SQL VIEWERS READER: what a pooled connection gives READER's first
# page after serving VIEWERS (PostgreSQL's default plan_cache_mode): the
# median of 5 runs in ms, and whether the plan is custom or generic.
auto_plan() {
  local out v
  out=$(
    {
      printf 'PREPARE q(bigint, bigint, bigint, boolean) AS %s;\n\\o /dev/null\n' "$1"
      for v in $2; do printf 'EXECUTE q(%s, %s, 21, false);\n' "$v" "$MAX"; done
      printf '\\o\n'
      for _ in 1 2 3 4 5; do printf 'EXPLAIN (ANALYZE) EXECUTE q(%s, %s, 21, false);\n' "$3" "$MAX"; done
    } | psql "$PG_URL/$DB" -XqAt -v ON_ERROR_STOP=1
  )
  printf '%s ms (%s plan)' \
    "$(sed -n 's/^Execution Time: \(.*\) ms$/\1/p' <<<"$out" | sort -n | sed -n 3p)" \
    "$(if grep -qF "follower_id = \$1" <<<"$out"; then echo generic; else echo custom; fi)"
}

# pgbench_ms NAME SQL VIEWER CLIENTS: average latency in ms of the prepared
# timeline query for VIEWER (a number, or a pgbench expression such as
# random(1, 100000)) with CLIENTS connections.
pgbench_ms() {
  local script=$WORK/$1.sql out query
  query=${2//\$1/:viewer}
  query=${query//\$2/$MAX}
  query=${query//\$4/false}
  printf '\\set viewer %s\n%s;\n' "$3" "${query//\$3/21}" >"$script"
  out=$(pgbench -n -M prepared -c "$4" -j "$4" -T "$TIMING_SECONDS" -f "$script" "$PG_URL/$DB" 2>&1) ||
    die "pgbench: $out"
  sed -n 's/^latency average = \(.*\) ms$/\1/p' <<<"$out"
}

main() {
  command -v pgbench >/dev/null || PATH=$PATH:$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
  seed_if_missing
  (cd "$ROOT" && cargo build --release --quiet --example sql)
  TIMELINE=$("$ROOT/target/release/examples/sql" timeline)
  : >"$PLANS"
  local reader following star author liker thread top_mid user_mid star_deep reader_deep counts
  read -r reader following <<<"$(sql "SELECT id, following_count FROM users ORDER BY abs(following_count - 500), id LIMIT 1" | tr '|' ' ')"
  star=$(sql "SELECT id FROM users ORDER BY followers_count DESC, id LIMIT 1")
  author=$(sql "SELECT id FROM users ORDER BY posts_count DESC, id LIMIT 1")
  liker=$(sql "SELECT user_id FROM likes GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1")
  thread=$(sql "SELECT id FROM posts ORDER BY reply_count DESC, id LIMIT 1")
  top_mid=$(sql "SELECT id FROM posts WHERE parent_id IS NULL AND deleted_at IS NULL ORDER BY id
                 OFFSET (SELECT count(*) / 2 FROM posts WHERE parent_id IS NULL) LIMIT 1")
  user_mid=$(sql "SELECT id FROM users ORDER BY id OFFSET (SELECT count(*) / 2 FROM users) LIMIT 1")
  star_deep=$(sql "SELECT id FROM follows WHERE followee_id = $star ORDER BY id DESC OFFSET 1000 LIMIT 1")
  reader_deep=$(sql "SELECT p.id FROM posts p JOIN follows f ON f.followee_id = p.user_id
                     WHERE f.follower_id = $reader AND p.deleted_at IS NULL ORDER BY p.id DESC OFFSET 200 LIMIT 1")
  counts=$(sql "SELECT format('%s posts, %s follows, %s likes, %s users',
                  (SELECT count(*) FROM posts), (SELECT count(*) FROM follows),
                  (SELECT count(*) FROM likes), (SELECT count(*) FROM users))")

  local b3=bigint,bigint,bigint b4=bigint,bigint,bigint,bigint tl=bigint,bigint,bigint,boolean
  q "timeline, first page" $tl "$reader, $MAX, 21, false" "$TIMELINE"
  q "timeline, deep page (200 in)" $tl "$reader, $reader_deep, 21, false" "$TIMELINE"
  q "timeline, first page, own posts too" $tl "$reader, $MAX, 21, true" "$TIMELINE"
  q "timeline, first page (previous SQL)" $tl "$reader, $MAX, 21, false" "$TIMELINE_BEFORE"
  q "timeline, deep page (previous SQL)" $tl "$reader, $reader_deep, 21, false" "$TIMELINE_BEFORE"
  q "followers of the most followed user" $b3 "$star, $MAX, 21" "$USER_SELECT, f.id AS cursor FROM users u
     JOIN follows f ON f.follower_id = u.id WHERE f.followee_id = \$1 AND f.id < \$2 ORDER BY f.id DESC LIMIT \$3"
  q "followers, deep page (1000 in)" $b3 "$star, $star_deep, 21" "$USER_SELECT, f.id AS cursor FROM users u
     JOIN follows f ON f.follower_id = u.id WHERE f.followee_id = \$1 AND f.id < \$2 ORDER BY f.id DESC LIMIT \$3"
  q "following (500 followees)" $b3 "$reader, $MAX, 21" "$USER_SELECT, f.id AS cursor FROM users u
     JOIN follows f ON f.followee_id = u.id WHERE f.follower_id = \$1 AND f.id < \$2 ORDER BY f.id DESC LIMIT \$3"
  q "likes list (top liker)" $b4 "NULL, $liker, $MAX, 21" "${POST_SELECT/p.id AS cursor/k.id AS cursor}
     JOIN likes k ON k.post_id = p.id WHERE k.user_id = \$2 AND p.deleted_at IS NULL AND k.id < \$3
     ORDER BY k.id DESC LIMIT \$4"
  q "user posts, top-level, asc" $b4 "NULL, $author, $MIN, 21" "$POST_SELECT WHERE p.user_id = \$2
     AND p.parent_id IS NULL AND p.deleted_at IS NULL AND p.id > \$3 ORDER BY p.id LIMIT \$4"
  q "user posts, top-level, desc" $b4 "NULL, $author, $MAX, 21" "$POST_SELECT WHERE p.user_id = \$2
     AND p.parent_id IS NULL AND p.deleted_at IS NULL AND p.id < \$3 ORDER BY p.id DESC LIMIT \$4"
  q "user posts with replies, asc" $b4 "NULL, $author, $MIN, 21" "$POST_SELECT WHERE p.user_id = \$2
     AND p.deleted_at IS NULL AND p.id > \$3 ORDER BY p.id LIMIT \$4"
  q "user posts with replies, desc" $b4 "NULL, $author, $MAX, 21" "$POST_SELECT WHERE p.user_id = \$2
     AND p.deleted_at IS NULL AND p.id < \$3 ORDER BY p.id DESC LIMIT \$4"
  q "replies (first page)" $b4 "NULL, $thread, $MIN, 21" "$POST_SELECT WHERE p.parent_id = \$2
     AND p.deleted_at IS NULL AND p.id > \$3 ORDER BY p.id LIMIT \$4"
  q "replies embedded in GET /post/{id}/" $b4 "NULL, $thread, $MIN, 101" "$POST_SELECT WHERE p.parent_id = \$2
     AND p.deleted_at IS NULL AND p.id > \$3 ORDER BY p.id LIMIT \$4"
  q "GET /post/ asc, first page" $b3 "NULL, $MIN, 21" "$POST_SELECT WHERE p.parent_id IS NULL
     AND p.deleted_at IS NULL AND p.id > \$2 ORDER BY p.id LIMIT \$3"
  q "GET /post/ asc, deep page (middle)" $b3 "NULL, $top_mid, 21" "$POST_SELECT WHERE p.parent_id IS NULL
     AND p.deleted_at IS NULL AND p.id > \$2 ORDER BY p.id LIMIT \$3"
  q "GET /post/ desc, first page" $b3 "NULL, $MAX, 21" "$POST_SELECT WHERE p.parent_id IS NULL
     AND p.deleted_at IS NULL AND p.id < \$2 ORDER BY p.id DESC LIMIT \$3"
  q "GET /post/ desc, deep page (middle)" $b3 "NULL, $top_mid, 21" "$POST_SELECT WHERE p.parent_id IS NULL
     AND p.deleted_at IS NULL AND p.id < \$2 ORDER BY p.id DESC LIMIT \$3"
  q "GET /post/ desc, signed-in viewer" $b3 "$reader, $MAX, 21" "$POST_SELECT WHERE p.parent_id IS NULL
     AND p.deleted_at IS NULL AND p.id < \$2 ORDER BY p.id DESC LIMIT \$3"
  q "GET /user/, first page" bigint,bigint "$MIN, 21" "$USER_SELECT, u.id AS cursor FROM users u
     WHERE u.id > \$1 ORDER BY u.id LIMIT \$2"
  q "GET /user/, deep page (middle)" bigint,bigint "$user_mid, 21" "$USER_SELECT, u.id AS cursor FROM users u
     WHERE u.id > \$1 ORDER BY u.id LIMIT \$2"

  local now proposed typical now_auto proposed_auto users now_mix proposed_mix
  now=$(pgbench_ms timeline-now "$TIMELINE_BEFORE" "$reader" 1)
  proposed=$(pgbench_ms timeline-proposed "$TIMELINE" "$reader" 1)
  typical=$(sql "SELECT id FROM users WHERE following_count BETWEEN 15 AND 25 ORDER BY id LIMIT 6" | paste -sd ' ')
  now_auto=$(auto_plan "$TIMELINE_BEFORE" "$typical" "$reader")
  proposed_auto=$(auto_plan "$TIMELINE" "$typical" "$reader")
  users=$(sql "SELECT max(id) FROM users")
  now_mix=$(pgbench_ms timeline-now-mix "$TIMELINE_BEFORE" "random(1, $users)" 2)
  proposed_mix=$(pgbench_ms timeline-proposed-mix "$TIMELINE" "random(1, $users)" 2)

  echo "Database $DB: $counts; PostgreSQL $(sql 'SHOW server_version'), $(date -u '+%Y-%m-%d')."
  echo "Viewer $reader follows $following users; params: viewer (NULL = anonymous), key, cursor, limit + 1."
  echo
  echo "| query | params | custom plan ms | generic plan ms | scans (IS index scan, IOS index-only, BIS bitmap index) | seq scan on posts/follows/likes |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Timeline first page:"
  echo "- viewer $reader ($following followees) every time (pgbench -M prepared, 1 client, ${TIMING_SECONDS} s average):" \
    "previous SQL ${now} ms, current SQL ${proposed} ms"
  echo "- viewer $reader on a connection that first served 6 viewers following about 20 users (median of 5):" \
    "previous SQL ${now_auto}, current SQL ${proposed_auto}"
  echo "- viewers drawn at random from all $users users (pgbench -M prepared, 2 clients, ${TIMING_SECONDS} s average):" \
    "previous SQL ${now_mix} ms, current SQL ${proposed_mix} ms"
  echo "Full plans: ${PLANS#"$ROOT"/}"
}

main "$@"
