-- SPDX-License-Identifier: Apache-2.0
-- The gunicorn_thrift example service: ping answers "pong", or raises the
-- declared AboutToShutDownException when about_to_shutdown=1 is set.
local thriftcorn = require("thriftcorn")
local pingpong = thriftcorn.load("pingpong.thrift")

local H = {}

function H.ping()
  if os.getenv("about_to_shutdown") == "1" then
    error(pingpong.AboutToShutDownException{})
  end
  return "pong"
end

return H
