-- wrk: GET /v1/versions/{id} over the benchmark's versions, as the secretariat.
function init(args)
  dofile("data.lua")
  i = 0
end

function request()
  i = i % #versions + 1
  return wrk.format("GET", "/v1/versions/" .. versions[i], {["Authorization"] = "Bearer " .. reader})
end
