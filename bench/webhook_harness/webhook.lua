-- wrk script of the webhook bench: replays pre-signed WeChat pushes.
--
--   wrk ... -s bench/webhook.lua http://127.0.0.1:PORT -- POOL OK_MARKER BAD_MARKERS
--
-- Thread N reads POOL.N, one push a line ("query string<TAB>body"), and POSTs each to
-- /wechat once, in order; a pool that runs out starts over (and the run is flagged, as
-- MsgIds then repeat). A response counts as good when its status is 200, its body holds
-- OK_MARKER and none of BAD_MARKERS ("|"-separated: Niangjia's answers that store nothing).
-- done() prints one line, BENCH_JSON {...}, that bench/webhook_bench.py reads.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  pool_path = args[1] .. "." .. id
  ok_marker = args[2] or "<xml>"
  bad_markers = {}
  for marker in string.gmatch(args[3] or "", "[^|]+") do
    table.insert(bad_markers, marker)
  end
  pool = assert(io.open(pool_path, "r"))
  sent = 0
  wrapped = 0
  good = 0
  bad = 0
  headers = { ["Content-Type"] = "text/xml" }
  -- wrk calls request() once on the first thread before the run, only to check that the
  -- request parses, and never sends it: hand that call the first push again afterwards.
  held = nil
  checking = (id == 1)
end

function request()
  local line = held
  held = nil
  if line == nil then
    line = pool:read("*l")
    if line == nil then
      wrapped = wrapped + 1
      pool:seek("set", 0)
      line = pool:read("*l")
    end
  end
  if checking then
    checking = false
    held = line
  else
    sent = sent + 1
  end
  local tab = line:find("\t", 1, true)
  return wrk.format("POST", "/wechat?" .. line:sub(1, tab - 1), headers, line:sub(tab + 1))
end

function response(status, headers, body)
  local ok = status == 200 and body:find(ok_marker, 1, true)
  for _, marker in ipairs(bad_markers) do
    ok = ok and not body:find(marker, 1, true)
  end
  if ok then
    good = good + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local sent_per_thread, total_good, total_bad, total_wrapped = {}, 0, 0, 0
  for i, thread in ipairs(threads) do
    sent_per_thread[i] = tostring(thread:get("sent"))
    total_good = total_good + thread:get("good")
    total_bad = total_bad + thread:get("bad")
    total_wrapped = total_wrapped + thread:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "requests": %d, "good": %d, "bad": %d, "wrapped": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, "sent": [%s]}\n',
    summary.duration, summary.requests, total_good, total_bad, total_wrapped,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    table.concat(sent_per_thread, ", ")))
end
