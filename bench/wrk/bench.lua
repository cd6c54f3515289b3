-- One wrk script for every benchmark; BENCH_MODE picks what each request is.
--   get      GET BENCH_PATH with no cookie (a first-time visitor)
--   sign     POST the sign form: one session cookie + CSRF token, a unique email
--            per request ("b-<run>-<thread>-<n>@example.org")
--   confirm  POST confirm links, one token per request, read from BENCH_TOKENS
-- Run with as many connections as threads (-tN -cN): each thread then has one
-- connection, responses come back in request order, and the bench can tell
-- exactly which emails/tokens were acknowledged (checked against the database).
-- done() prints one line "BENCH_JSON {...}" for bench/run.py.

local mode = os.getenv("BENCH_MODE") or "get"
local path = os.getenv("BENCH_PATH") or "/"
local cookie = os.getenv("BENCH_COOKIE") or ""
local csrf = os.getenv("BENCH_CSRF") or ""
local started = os.getenv("BENCH_STARTED") or ""
local run = os.getenv("BENCH_RUN") or "run"
local tokens_file = os.getenv("BENCH_TOKENS")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

-- BENCH_DELAY_MS: each connection pauses this long before each request (a paced,
-- unsaturated load; wrk's latency counts from the send, not the pause).
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  sent = 0
  responses = 0
  ok = 0
  other = 0
  failed = ""
  exhausted = 0
  form_headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
  }
  fixed = "csrf_token=" .. urlencode(csrf) .. "&started=" .. urlencode(started)
  if mode == "confirm" then
    tokens = {}
    local i = 0
    for line in io.lines(tokens_file) do
      if i % nthreads == id - 1 then table.insert(tokens, line) end
      i = i + 1
    end
  end
end

function request()
  sent = sent + 1
  if mode == "sign" then
    local email = string.format("b-%s-%d-%d@example.org", run, id, sent)
    local body = fixed .. "&name=Bench+Signer&country=DE&comment=&source=&ref=&website="
      .. "&email=" .. urlencode(email)
    return wrk.format("POST", path, form_headers, body)
  elseif mode == "confirm" then
    local token = tokens[sent]
    if token == nil then
      -- This connection used its share of the tokens (connections are served unevenly):
      -- it stops, and the others go on. A repeated token would only measure the 404.
      exhausted = 1
      wrk.thread:stop()
      token = tokens[1] or "0-x"
    end
    return wrk.format("POST", path .. token, form_headers, fixed)
  end
  return wrk.format("GET", path)
end

if mode ~= "get" then
  function response(status, headers, body)
    if exhausted == 1 then return end  -- the stopped connection's last (repeated) token
    responses = responses + 1
    if status == 303 then
      ok = ok + 1
    else
      other = other + 1
      if #failed < 2000 then failed = failed .. responses .. ":" .. status .. " " end
    end
  end
end

function done(summary, latency, requests)
  local parts = {}
  local total_ok, total_other, total_sent = 0, 0, 0
  for _, thread in ipairs(threads) do
    local t_ok = thread:get("ok") or 0
    local t_other = thread:get("other") or 0
    local t_sent = thread:get("sent") or 0
    total_ok, total_other, total_sent = total_ok + t_ok, total_other + t_other, total_sent + t_sent
    table.insert(parts, string.format(
      '{"id":%d,"sent":%d,"responses":%d,"ok":%d,"failed":"%s","exhausted":%d}',
      thread:get("id"), t_sent, thread:get("responses") or 0, t_ok, thread:get("failed") or "",
      thread:get("exhausted") or 0))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
    '"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,"errors":{"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d},"ok":%d,"other":%d,"sent":%d,"threads":[%s]}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000, e.connect, e.read, e.write, e.status, e.timeout,
    total_ok, total_other, total_sent, table.concat(parts, ",")))
end
