-- wrk: related items and user recommendations from the store, keys drawn at random (fixed seed per
-- thread) from the files serve_bench.sh writes. ENCORE_KEYS_DIR names the folder.
local dir = os.getenv("ENCORE_KEYS_DIR")
local function lines(path)
  local t = {}
  for l in io.lines(path) do t[#t + 1] = l end
  return t
end
local items, users
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  items = lines(dir .. "/items.txt")
  users = lines(dir .. "/users.txt")
  math.randomseed(seed)
end
function request()
  if math.random() < 0.5 then
    return wrk.format("GET", "/items/" .. items[math.random(#items)] .. "/related?n=20")
  end
  return wrk.format("GET", "/users/" .. users[math.random(#users)] .. "/recommendations?n=20&explain=true")
end
