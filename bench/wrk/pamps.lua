-- wrk script for bench/run.sh. BENCH_MODE picks the request shape:
--   get    GET the URL given to wrk, with BENCH_TOKEN as a bearer token if set
--   post   POST /post/ as the users of BENCH_TOKENS (a file, one token a line) in turn
--   like   POST /post/{id}/like/ with a (user, post) pair not used before in this
--          run: user = request number mod #tokens, post = a permutation of
--          1..BENCH_POSTS; BENCH_OFFSET keeps separate runs apart
--   login  POST /token as BENCH_USER with BENCH_PASSWORD (form encoded)
-- BENCH_API=mastodon makes post and like the Mastodon API's: POST /api/v1/statuses
-- and POST /api/v1/statuses/{id}/favourite (200 whether new or not: counted as created).
-- done() prints one line: RESULT key=value ... for run.sh to parse.

local mode = os.getenv("BENCH_MODE") or "get"
local mastodon = os.getenv("BENCH_API") == "mastodon"
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then
      table.insert(lines, line)
    end
  end
  return lines
end

local tokens = {}
local counter = 0
local stride = 1
created = 0
already = 0

function init(args)
  stride = tonumber(os.getenv("BENCH_THREADS") or "1")
  counter = tonumber(os.getenv("BENCH_OFFSET") or "0") + tid
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  if mode == "post" or mode == "like" then
    tokens = read_lines(os.getenv("BENCH_TOKENS"))
  end
  if mode == "login" then
    wrk.method = "POST"
    wrk.path = "/token"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.body = "username=" .. os.getenv("BENCH_USER") .. "&password=" .. os.getenv("BENCH_PASSWORD")
  end
end

if mode == "post" then
  function request()
    local n = counter
    counter = counter + stride
    local headers = {
      ["Authorization"] = "Bearer " .. tokens[n % #tokens + 1],
      ["Content-Type"] = "application/json",
    }
    if mastodon then
      return wrk.format("POST", "/api/v1/statuses", headers, '{"status": "bench post ' .. n .. '"}')
    end
    return wrk.format("POST", "/post/", headers, '{"text": "bench post ' .. n .. '"}')
  end
end

if mode == "like" then
  local posts = tonumber(os.getenv("BENCH_POSTS") or "1")
  function request()
    local n = counter
    counter = counter + stride
    local user = n % #tokens
    local round = math.floor(n / #tokens)
    local post = 1 + (round * 7919 + user * 104729) % posts
    local headers = { ["Authorization"] = "Bearer " .. tokens[user + 1] }
    if mastodon then
      return wrk.format("POST", "/api/v1/statuses/" .. post .. "/favourite", headers, "")
    end
    return wrk.format("POST", "/post/" .. post .. "/like/", headers, "")
  end

  function response(status, headers, body)
    if status == 201 or (mastodon and status == 200) then
      created = created + 1
    elseif status == 200 then
      already = already + 1
    end
  end
end

function done(summary, latency, requests)
  local made, seen = 0, 0
  for _, thread in ipairs(threads) do
    made = made + (thread:get("created") or 0)
    seen = seen + (thread:get("already") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d status_errors=%d created=%d already=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status, made, seen))
end
