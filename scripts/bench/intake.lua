-- wrk's script for the intake bench (scripts/bench/intake.py): every request POSTs the lead template with
-- its own conversation and Idempotency-Key (so each one is a new lead, never a replay); at the end, one JSON
-- line with the counts, the status codes and the latencies (microseconds).
-- Arguments (after `--`): the template's path (the text @REF@ stands for the request's reference), the API
-- key, and a prefix for the references.
threads = {}

function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  template = file:read("*a")
  file:close()
  prefix = args[3]
  sent = 0
  statuses = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = args[2]
end

function request()
  sent = sent + 1
  local ref = prefix .. "-" .. number .. "-" .. sent
  wrk.headers["Idempotency-Key"] = ref
  return wrk.format(nil, nil, nil, (template:gsub("@REF@", ref)))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%s": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}, "p50_us": %d, "p95_us": %d, "mean_us": %.1f, "max_us": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency.mean, latency.max, table.concat(parts, ", ")))
end
