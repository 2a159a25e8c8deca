-- wrk: a radio mix on one connection per thread: next track, then feedback (up, skip or down in
-- turn) on the track just played, then next again; each thread walks its own sessions (from
-- sessions.txt in ENCORE_KEYS_DIR, created by serve_bench.sh). Every feedback is committed before
-- it is acknowledged.
local dir = os.getenv("ENCORE_KEYS_DIR")
local sessions = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
local mine, k, last, step = {}, 1, nil, 0
local kinds = {"up", "skip", "down"}
function init(args)
  local n = 0
  for l in io.lines(dir .. "/sessions.txt") do
    n = n + 1
    if n % 2 == id % 2 then mine[#mine + 1] = l end
  end
end
function request()
  local s = mine[k]
  if last == nil then
    return wrk.format("GET", "/radio/" .. s .. "/next?n=1")
  end
  step = step + 1
  local body = '{"item":"' .. last .. '","feedback":"' .. kinds[step % 3 + 1] .. '","n":1}'
  local item = last
  last = nil
  k = k % #mine + 1
  return wrk.format("POST", "/radio/" .. s .. "/feedback", {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status == 200 then
    local t = body:match('"tracks":%[{"id":"([^"]+)"')
    if t then last = t end
  end
end
