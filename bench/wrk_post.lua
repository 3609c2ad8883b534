-- wrk script: POST one prepared request and report, as one JSON line, how many requests were
-- written (so that the journal can be checked against it) and the latency percentiles.
--
-- Usage: wrk ... -s bench/wrk_post.lua URL -- REQUEST_FILE [distinct]
-- REQUEST_FILE: the body on the first line, then one "name: value" header per line.
-- The headers come from aichat.Aichat.HEADERS (bench/common.py writes the file).
-- "distinct": each request of a thread asks a new question ("Hello 00000001", then
-- "Hello 00000002", ...: the same length, so the same head), so that none is the last one
-- again on its connection (the mock answers a request sent again from what it kept).

local threads = {}
local prepared = nil
local headers = {}
local template = nil
-- A global, so that done() can read each thread's count with thread:get().
written = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*l")
  for line in file:lines() do
    local name, value = line:match("^([^:]+): (.*)$")
    if name then headers[name] = value end
  end
  file:close()
  prepared = wrk.format("POST", nil, headers, body)
  if args[2] == "distinct" then
    template = body:gsub("Hello", "Hello %%08d", 1)
  end
end

-- Defining request() makes wrk call it for every request it writes, which is what lets this
-- script count them; returning the same prepared bytes keeps the cost to a counter.
function request()
  written = written + 1
  if template then
    return wrk.format("POST", nil, headers, string.format(template, written))
  end
  return prepared
end

function done(summary, latency, requests)
  -- wrk calls request() once on the first thread to check the script before any connection
  -- opens; that call wrote nothing.
  local sent = -1
  for _, thread in ipairs(threads) do
    sent = sent + (thread:get("written") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"sent": %d, "completed": %d, "duration_us": %d, "non_2xx_3xx": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    sent, summary.requests, summary.duration, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
