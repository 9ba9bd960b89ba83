-- wrk script for the hookline benchmark: sends the request described by the
-- environment (BENCH_METHOD, BENCH_BODY, BENCH_CONTENT_TYPE), counts responses by
-- status class in every thread, and at the end prints one JSON line, prefixed with
-- BENCH_RESULT, holding latency percentiles (microseconds) and counters.

local threads = {}

wrk.method = os.getenv("BENCH_METHOD") or "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok2xx = 0
  non2xx = 0
  statuses = {}
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  else
    non2xx = non2xx + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

local function percentiles(latency)
  local out = {}
  local points = {}
  for p = 1, 99 do table.insert(points, p) end
  for _, p in ipairs({99.5, 99.9, 99.99}) do table.insert(points, p) end
  for _, p in ipairs(points) do
    table.insert(out, string.format('"%s": %d', tostring(p), latency:percentile(p)))
  end
  return "{" .. table.concat(out, ", ") .. "}"
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  local codes = {}
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("ok2xx")
    bad = bad + thread:get("non2xx")
    local seen = thread:get("statuses")
    for status, count in pairs(seen) do
      codes[status] = (codes[status] or 0) + count
    end
  end
  local status_parts = {}
  for status, count in pairs(codes) do
    table.insert(status_parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us": %d, "requests": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"ok_2xx": %d, "non_2xx": %d, "statuses": {%s}, ' ..
    '"latency_us": {"min": %d, "max": %d, "mean": %.1f, "stdev": %.1f, "percentiles": %s}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    ok, bad, table.concat(status_parts, ", "),
    latency.min, latency.max, latency.mean, latency.stdev, percentiles(latency)))
end
