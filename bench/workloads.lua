-- wrk script for Frontdesk's benchmark (bench/run.py sets everything through FD_* variables).
--   FD_MODE=plain     replay one request (FD_METHOD, FD_PATH, FD_BODY, FD_HEADERS)
--   FD_MODE=flow      per connection: GET authorize (FD_PATH, FD_HEADERS) -> 302 with code,
--                     then POST FD_TOKEN_PATH with FD_TOKEN_BODY .. code (FD_TOKEN_HEADERS)
-- Headers are "Name: value" lines. done() prints one line: FD_RESULT {json}.

local mode = os.getenv("FD_MODE") or "plain"

local function headers_of(text)
  local out = {}
  for line in string.gmatch(text or "", "[^\n]+") do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    if name then out[name] = value end
  end
  return out
end

good = 0
bad = 0

if mode == "plain" then
  wrk.method = os.getenv("FD_METHOD") or "GET"
  wrk.path = os.getenv("FD_PATH") or "/"
  local body = os.getenv("FD_BODY") or ""
  if body ~= "" then wrk.body = body end
  for name, value in pairs(headers_of(os.getenv("FD_HEADERS"))) do wrk.headers[name] = value end
  local expect = tonumber(os.getenv("FD_EXPECT") or "200")

  function response(status, headers, body)
    if status == expect then good = good + 1 else bad = bad + 1 end
  end

  -- FD_TOKENS: a file with one bearer token per line; requests cycle through them.
  local tokens_file = os.getenv("FD_TOKENS") or ""
  if tokens_file ~= "" then
    local tokens, n = {}, 0
    for line in io.lines(tokens_file) do n = n + 1; tokens[n] = line end
    local i = 0
    local base_headers = headers_of(os.getenv("FD_HEADERS"))

    function init(args)
      i = math.random(n)
    end

    function request()
      i = i % n + 1
      base_headers["Authorization"] = "Bearer " .. tokens[i]
      return wrk.format(nil, wrk.path, base_headers, wrk.body)
    end
  end
end

if mode == "flow" then
  local step, code = "authorize", nil
  local authorize_request, token_path, token_body, token_headers

  function init(args)
    authorize_request = wrk.format("GET", os.getenv("FD_PATH"), headers_of(os.getenv("FD_HEADERS")))
    token_path = os.getenv("FD_TOKEN_PATH")
    token_body = os.getenv("FD_TOKEN_BODY")
    token_headers = headers_of(os.getenv("FD_TOKEN_HEADERS"))
  end

  function request()
    if step == "authorize" then return authorize_request end
    return wrk.format("POST", token_path, token_headers, token_body .. code)
  end

  function response(status, headers, body)
    if step == "authorize" then
      local location = headers["location"] or headers["Location"] or ""
      code = string.match(location, "[?&]code=([^&]+)")
      if status == 302 and code then step = "token" else bad = bad + 1 end
    else
      step = "authorize"
      if status == 200 then good = good + 1 else bad = bad + 1 end
    end
  end
end

local all = {}
function setup(thread) table.insert(all, thread) end

function done(summary, latency, requests)
  local g, b = 0, 0
  for _, thread in ipairs(all) do
    g = g + thread:get("good")
    b = b + thread:get("bad")
  end
  local errors = summary.errors
  io.write(string.format(
    'FD_RESULT {"requests":%d,"seconds":%.3f,"good":%d,"bad":%d,"socket_errors":%d,' ..
    '"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, g, b,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
