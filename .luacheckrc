std = "lua54"
max_line_length = 100
files["tests/spec/"] = { std = "+busted" }
-- config files: their settings are globals, read by thriftcorn, not by Lua code
local config_file = { allow_defined_top = true, ignore = { "131" } }
files["thriftcorn.lua"] = config_file
files["examples/pingpong/thriftcorn.lua"] = config_file
files["examples/calculator/thriftcorn.lua"] = config_file
files["examples/calculator_c/thriftcorn.lua"] = config_file
