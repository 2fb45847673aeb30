#!/usr/bin/env bash
# Spec fuzz: validates /openapi.json as OpenAPI 3.1, then schemathesis runs
# every check against a live pamps (debug build) on a throwaway database
# seeded with users, posts, follows and likes (so generated ids find rows and
# id routes answer 200, not only 404), authenticated with a real token. The
# pamps API and the Mastodon surface each get their own server and database
# (what one surface's fuzz blocks, suspends or clears does not starve the
# other's id routes).
# Prints how many operations got a 2xx; fails when a route on an id never did.
# Called by test.sh; needs DATABASE_URL (a server where it may create databases).
#   FUZZ_EXAMPLES=40   examples per operation and phase
#   FUZZ_MASTODON_EXAMPLES=$FUZZ_EXAMPLES  the same for the Mastodon surface
#   FUZZ_SEED=<random> printed at the start; set it to replay a run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server}"

source scripts/tools.sh
bash scripts/tools.sh fuzz
VENV=$FUZZ_VENV

cargo build --quiet --bin pamps

base="${DATABASE_URL%/*}"
dbs=()
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  for db in "${dbs[@]}"; do
    psql "$DATABASE_URL" -XqAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "${TMPDIR:-/tmp}/pamps-fuzz-media-$$"
}
trap cleanup EXIT

seed=${FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}
echo "api-fuzz: seed $seed (FUZZ_SEED=$seed replays this run)"

# user1's notifications and relations as seeded (again before a retry: the
# fuzz clears, blocks, follows and, as an admin, suspends). Notifications
# 1..N are likes of user1's live posts (by users 2..31), so that GET
# /api/v1/notifications/{id} and its dismiss find one; user1 follows,
# blocks and mutes nobody and nobody is suspended, so a follow can succeed.
reset() {
  psql "$1" -XqAt -v ON_ERROR_STOP=1 -c "
  UPDATE users SET suspended_at = NULL WHERE suspended_at IS NOT NULL;
  DELETE FROM follows WHERE follower_id = (SELECT id FROM users WHERE username = 'user1');
  DELETE FROM blocks WHERE (SELECT id FROM users WHERE username = 'user1') IN (blocker_id, blocked_id);
  DELETE FROM mutes WHERE muter_id = (SELECT id FROM users WHERE username = 'user1');
  DELETE FROM notifications;
  INSERT INTO notifications (id, user_id, actor_id, type, post_id) OVERRIDING SYSTEM VALUE
  SELECT row_number() OVER (ORDER BY p.id), p.user_id, 2 + p.id % 30, 'like', p.id
    FROM posts p JOIN users u ON u.id = p.user_id
   WHERE u.username = 'user1' AND p.deleted_at IS NULL;
  SELECT setval(pg_get_serial_sequence('notifications', 'id'), (SELECT max(id) FROM notifications))" >/dev/null
}

# start N: a seeded database and a server on it; sets urls[N], tokens[N], dburls[N].
urls=()
tokens=()
dburls=()
start() {
  local db="pamps_fuzz_$$_$1"
  dbs+=("$db")
  psql "$DATABASE_URL" -XqAt -c "CREATE DATABASE $db" >/dev/null
  dburls[$1]="$base/$db"
  # Seeded rows: user1..user40 (ids 1..40, password pamps-seed-password; user1
  # an admin, so the moderation routes answer it, with open reports 1..38),
  # posts 1..60 by them, follows and likes; then posts 61..300 by user1, the
  # account the fuzz acts as, so that generated post ids are often its own and
  # PATCH/DELETE /post/{id}/ can succeed too; the triggers keep the counters.
  PAMPS_ENV=testing PAMPS_DB__URI="${dburls[$1]}" ./target/debug/pamps migrate >/dev/null
  PAMPS_ENV=testing PAMPS_DB__URI="${dburls[$1]}" ./target/debug/pamps seed \
    --users 40 --posts 60 --follows-per-user 5 --likes 100 --seed "$seed" >/dev/null
  psql "${dburls[$1]}" -XqAt -v ON_ERROR_STOP=1 -c "INSERT INTO posts (user_id, text)
  SELECT u.id, 'fuzz seed post ' || g FROM users u, generate_series(1, 240) g WHERE u.username = 'user1';
  UPDATE users SET role = 'admin' WHERE username = 'user1';
  INSERT INTO reports (reporter_id, target_id, reason)
  SELECT 2, id, 'fuzz seed report' FROM users WHERE username NOT IN ('user1', 'user2');
  INSERT INTO media (user_id, file_key, preview_key, content_type, width, height, small_width, small_height, blurhash)
  SELECT u.id, md5('f' || g) || '.png', md5('p' || g) || '_small.png', 'image/png', 10, 10, 10, 10, 'LEHV6nWB2yk8pyo0adR*.7kCMdnj'
    FROM users u, generate_series(1, 300) g WHERE u.username = 'user1'" >/dev/null
  # Mastodon app tokens 1..300 of user1 (each its own session), so that
  # DELETE /oauth/authorized_apps/{id} finds one.
  psql "${dburls[$1]}" -XqAt -v ON_ERROR_STOP=1 -c "
  WITH app AS (INSERT INTO oauth_apps (name, redirect_uris, scopes, client_id, client_secret)
               VALUES ('fuzz', ARRAY['urn:ietf:wg:oauth:2.0:oob'], 'read', 'fuzz-client-id', 'fuzz-client-secret')
               RETURNING id),
       s AS (SELECT gen_random_uuid() AS f, g FROM generate_series(1, 300) g),
       r AS (INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at)
             SELECT s.f, s.f, u.id, 'infinity' FROM s, users u WHERE u.username = 'user1')
  INSERT INTO oauth_tokens (token_hash, app_id, user_id, session_id, scopes)
  SELECT sha256(('fuzz token ' || s.g)::bytea), app.id, u.id, s.f, 'read'
    FROM s, app, users u WHERE u.username = 'user1' ORDER BY s.g" >/dev/null

  reset "${dburls[$1]}"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  urls[$1]="http://127.0.0.1:$port"
  PAMPS_ENV=testing \
  PAMPS_DB__URI="${dburls[$1]}" \
  PAMPS_SERVER__PORT="$port" \
  PAMPS_SERVER__LOG_LEVEL=error \
  PAMPS_RATE_LIMIT__ENABLED=false \
  PAMPS_MEDIA__ROOT="${TMPDIR:-/tmp}/pamps-fuzz-media-$$" \
  PAMPS_SECURITY__SECRET_KEY="api-fuzz-secret-api-fuzz-secret-0123" \
  ./target/debug/pamps serve >"${TMPDIR:-/tmp}/pamps-fuzz-$$-$1.log" 2>&1 &
  pids+=($!)

  tokens[$1]=$(python3 - "${urls[$1]}" <<'PY'
import json, sys, time, urllib.parse, urllib.request
url, username = sys.argv[1], "user1"
for _ in range(100):
    try:
        urllib.request.urlopen(url + "/health", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
form = urllib.parse.urlencode({"username": username, "password": "pamps-seed-password"}).encode()
pair = json.load(urllib.request.urlopen(url + "/token", form, timeout=10))
print(pair["access_token"])
PY
  )
}

start 0
start 1

# The document must be valid OpenAPI 3.1 before it is used to fuzz.
spec="${TMPDIR:-/tmp}/pamps-openapi-$$.json"
python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "${urls[0]}/openapi.json" >"$spec"
"$VENV/bin/openapi-spec-validator" "$spec"
rm -f "$spec"

har="${TMPDIR:-/tmp}/pamps-fuzz-$$"
misses="$har.misses"
rc=0
# fuzz SURFACE SEED EXAMPLES HAR [schemathesis filters...]; $config is the settings file.
config=scripts/schemathesis.toml
fuzz() {
  local n=$1
  shift
  # Every check runs (schemathesis' default); not `--checks all`, which
  # would override the per-operation settings of schemathesis.toml.
  "$VENV/bin/schemathesis" --config-file "$config" run "${urls[$n]}/openapi.json" \
    --header "Authorization: Bearer ${tokens[$n]}" \
    --max-examples "$2" \
    --seed "$1" \
    --report har --report-har-path "$3" \
    --no-color "${@:4}" </dev/null || rc=$?
}

# Which operations the fuzz reached past validation and lookups (over every
# HAR given); writes the routes on an id that never got a 2xx to $misses and
# fails when there are any.
coverage() {
  python3 - "${urls[0]}/openapi.json" "$misses" "$@" <<'PY'
import json, re, sys, urllib.parse, urllib.request
spec = json.load(urllib.request.urlopen(sys.argv[1]))
ops = {}
for path, item in spec["paths"].items():
    pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
    for method in item:
        if method in ("get", "post", "put", "patch", "delete"):
            ops[(method.upper(), path)] = (pattern, [0, 0])
for har in sys.argv[3:]:
    for entry in json.load(open(har))["log"]["entries"]:
        method = entry["request"]["method"]
        path = urllib.parse.urlsplit(entry["request"]["url"]).path
        status = entry["response"]["status"]
        for (m, _), (pattern, counts) in ops.items():
            if m == method and pattern.match(path):
                counts[0] += 1
                counts[1] += 200 <= status < 300
                break
# These succeed only with a secret no generator can guess: a password or a
# refresh token (the API tests cover their success paths).
SECRET_NEEDED = {("POST", "/token"), ("POST", "/refresh_token"), ("POST", "/logout"),
                 ("POST", "/user/me/password"), ("DELETE", "/user/"),
                 # a random file name, and a real picture in a multipart body
                 ("GET", "/media/files/{key}"), ("POST", "/media/"),
                 ("POST", "/user/me/avatar/"), ("POST", "/user/me/header/"),
                 # Mastodon: OAuth needs a registered app's client id and
                 # secret, a code or a token; sign-up an app's token
                 ("GET", "/oauth/authorize"), ("GET", "/oauth/consent"),
                 ("POST", "/oauth/consent"), ("POST", "/oauth/token"),
                 ("POST", "/oauth/revoke"), ("POST", "/api/v1/accounts"),
                 ("POST", "/api/v1/media"), ("POST", "/api/v2/media")}
reached = [op for op, (_, c) in ops.items() if c[1]]
print(f"api-fuzz: {len(reached)} of {len(ops)} operations got a 2xx "
      f"({sum(c[0] for _, c in ops.values())} requests)")
never = sorted((m, p, c[0]) for (m, p), (_, c) in ops.items()
               if not c[1] and (m, p) not in SECRET_NEEDED)
if never:
    print("api-fuzz: never a 2xx: " + "; ".join(f"{m} {p} ({n} requests)" for m, p, n in never))
# The seeded rows are there so that routes on an id find one: those must.
on_id = [(m, p) for m, p, _ in never if "{" in p]
with open(sys.argv[2], "w") as out:
    out.writelines(f"{m} {p}\n" for m, p in on_id)
sys.exit(1 if on_id else 0)
PY
}

# The pamps API and the Mastodon surface at once, each against its own
# server (two cores: one schemathesis process alone leaves the second mostly
# idle); each part's output follows when both are done, with its time.
mastodon='^/(api/v[12]|oauth|\.well-known)(/|$)'
part() {
  local name=$1 began=$SECONDS
  shift
  rc=0
  fuzz "$@"
  echo "api-fuzz: $name fuzzed in $((SECONDS - began)) s"
  return $rc
}
part "pamps API" 0 "$seed" "${FUZZ_EXAMPLES:-40}" "$har.0" --exclude-path-regex "$mastodon" \
  >"$har.0.log" 2>&1 &
pamps_part=$!
part "Mastodon API" 1 "$seed" "${FUZZ_MASTODON_EXAMPLES:-${FUZZ_EXAMPLES:-40}}" "$har.m" \
  --include-path-regex "$mastodon" >"$har.m.log" 2>&1 &
mastodon_part=$!
wait "$pamps_part" || rc=1
wait "$mastodon_part" || rc=1
cat "$har.0.log" "$har.m.log"
hars=("$har.0" "$har.m")
if ! coverage "${hars[@]}"; then
  # Examples spread over an integer's whole range may never pick one of the
  # seeded ids (a follow finds a user only at ids 2..40): each operation that
  # missed runs again with every {id} drawn from 2..40 (rows every seeded
  # table has) or 61..99 (user1's own posts: which of 1..60 are user1's
  # depends on the seed, and once only post 7 was, so DELETE /post/{id}/
  # missed 67 times) and every {username} from user2..user40, after a reset.
  # A miss then is the server's, not the dice's.
  config="$har.toml"
  {
    cat scripts/schemathesis.toml
    printf '\n[dictionaries.seeded_ids]\nvalues = [%s,%s]\n' "$(seq -s, 2 40)" "$(seq -s, 61 99)"
    printf '\n[dictionaries.seeded_names]\nvalues = [%s]\n' "$(seq -s, -f '"user%g"' 2 40)"
    printf '\n[parameters]\n"path.id" = { dictionary = "seeded_ids", probability = 1.0 }\n'
    printf '"path.username" = { dictionary = "seeded_names", probability = 1.0 }\n'
  } >"$config"
  n=0
  while read -r method path; do
    n=$((n + 1))
    surface=0
    [[ $path =~ $mastodon ]] && surface=1
    echo "api-fuzz: $method $path again, on seeded ids"
    reset "${dburls[$surface]}"
    fuzz "$surface" "$((seed + n))" 50 "$har.$n" --include-name "$method $path"
    hars+=("$har.$n")
  done <"$misses"
  if ! coverage "${hars[@]}"; then
    echo "api-fuzz: FAIL: a route on an id never found a row"
    rc=1
  fi
fi
rm -f "$har".*
exit $rc
