-- wrk: each request records an approval for a (version, board) pair nobody else takes.
-- data.lua (written by decisions.py) defines `versions`, `boards` and `tokens`.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  dofile("data.lua")
  nthreads = tonumber(args[1] or "2")
  local mine = {}
  for i = 1, #versions do
    if (i - 1) % nthreads == id then
      table.insert(mine, versions[i])
    end
  end
  -- Blocks of 16 versions, each block's boards in turn: simultaneous requests hit
  -- different versions, and every eighth decision is a block's last board, which
  -- puts its version in force (with its notices to the eight boards).
  queue = {}
  for first = 1, #mine, 16 do
    for _, b in ipairs(boards) do
      for i = first, math.min(first + 15, #mine) do
        table.insert(queue, {mine[i], b})
      end
    end
  end
  pos = 0
end

function request()
  pos = pos + 1
  local item = queue[pos]
  if item == nil then
    return wrk.format("GET", "/healthz")
  end
  local v, b = item[1], item[2]
  local body = '{"board_id":"' .. b .. '","outcome":"approved","decided_on":"2019-06-10",' ..
               '"paragraph":"§ 60","case_number":"2019/KS 0260 005"}'
  return wrk.format("POST", "/v1/versions/" .. v .. "/decisions",
    {["Authorization"] = "Bearer " .. tokens[b], ["Content-Type"] = "application/json"}, body)
end
