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
  queue = {}
  -- boards outer, versions inner: simultaneous requests hit different versions
  for _, b in ipairs(boards) do
    for i = 1, #versions do
      if (i - 1) % nthreads == id then
        table.insert(queue, {versions[i], b})
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
