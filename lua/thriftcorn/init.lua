-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn: the Lua facade. Loads Thrift IDL at run time (no code
-- generation) and encodes and decodes Thrift values with the C codec.
local idl = require("thriftcorn.idl")
local schema = require("thriftcorn.schema")
local core = require("thriftcorn.core")

local M = {}

M.core = core

-- Message types and TApplicationException type codes, Apache Thrift's values.
M.MessageType = {
  CALL = core.CALL, REPLY = core.REPLY, EXCEPTION = core.EXCEPTION, ONEWAY = core.ONEWAY,
}
M.ApplicationException = {
  UNKNOWN = core.UNKNOWN, UNKNOWN_METHOD = core.UNKNOWN_METHOD,
  INVALID_MESSAGE_TYPE = core.INVALID_MESSAGE_TYPE, WRONG_METHOD_NAME = core.WRONG_METHOD_NAME,
  BAD_SEQUENCE_ID = core.BAD_SEQUENCE_ID, MISSING_RESULT = core.MISSING_RESULT,
  INTERNAL_ERROR = core.INTERNAL_ERROR, PROTOCOL_ERROR = core.PROTOCOL_ERROR,
  INVALID_TRANSFORM = core.INVALID_TRANSFORM, INVALID_PROTOCOL = core.INVALID_PROTOCOL,
  UNSUPPORTED_CLIENT_TYPE = core.UNSUPPORTED_CLIENT_TYPE,
}

-- Folders searched for `include` after the including file's own folder.
M.include_dirs = {}

-- Modules already loaded in this Lua state, by absolute path: loading a file
-- twice gives the same module, so its structs and exceptions stay identical.
local loaded = {}

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- The folder of the Lua file that called the function `level` levels up.
local function caller_dir(level)
  local info = debug.getinfo(level + 1, "S")
  local src = info and info.source or ""
  if src:sub(1, 1) == "@" then
    return dirname(src:sub(2))
  end
  return nil
end

-- Resolve `path` for a load() called from the file `level` levels up.
local function resolve(path, level)
  if path:sub(1, 1) == "/" then
    return path
  end
  local dir = caller_dir(level + 1)
  if dir and dir ~= "." then
    return dir .. "/" .. path
  end
  return path
end

-- Raise "bad argument #i to 'fn' (why)" at the line that called the
-- facade function (`depth` calls up from argerror's caller, 1 by default),
-- as luaL_argerror() does for the C functions.
local function argerror(i, fn, why, depth)
  error(string.format("bad argument #%d to '%s' (%s)", i, fn, why), 2 + (depth or 1))
end

-- Whether 'dirs' is a table of folder names, as opts.include_dirs and
-- thriftcorn.include_dirs must be.
local function is_dir_list(dirs)
  if type(dirs) ~= "table" then
    return false
  end
  for _, d in pairs(dirs) do
    if type(d) ~= "string" then
      return false
    end
  end
  return true
end

local function check_load_opts(opts)
  if opts == nil then
    return
  end
  if type(opts) ~= "table" then
    argerror(2, "load", "table expected, got " .. type(opts), 2)
  end
  if opts.include_dirs ~= nil and not is_dir_list(opts.include_dirs) then
    argerror(2, "load", "'include_dirs' must be a list of strings", 2)
  end
  local warn = opts.warn
  local mt = type(warn) == "table" and getmetatable(warn)
  if warn ~= nil and type(warn) ~= "function" and not (type(mt) == "table" and mt.__call) then
    argerror(2, "load", "'warn' must be a function", 2)
  end
end

-- The IDL loader's reader: core.read_file() never blocks on a FIFO or a
-- device, and refuses all but a regular file (/dev/zero would never end).
-- A file is known by its real path, so that a file reached through a
-- symlink is the one file, and a cycle through a symlink a cycle. Only no
-- file at the path (no such name, or a name on the way that is a file)
-- lets the search for an include go on to the next folder.
local function read_idl(path)
  local text, why, code = core.read_file(path)
  if text then
    return text, (core.realpath(path))
  end
  return nil, why, code ~= core.ENOENT and code ~= core.ENOTDIR, code == core.ENOENT
end

--- Load a .thrift file and return its module (structs, enums, constants,
--- services). A relative path is resolved against the folder of the Lua file
--- that calls load(). Raises an error "file:line:col: message" on bad IDL.
function M.load(path, opts)
  if type(path) ~= "string" then
    argerror(1, "load", "string expected, got " .. type(path))
  elseif path:find("\0", 1, true) then
    argerror(1, "load", "contains a NUL byte")
  end
  check_load_opts(opts)
  local include_dirs = (opts and opts.include_dirs) or M.include_dirs
  if not is_dir_list(include_dirs) then
    error("thriftcorn.load: thriftcorn.include_dirs must be a list of strings", 2)
  end
  local full = resolve(path, 2)
  local real, rerr = core.realpath(full)
  if not real then
    -- rerr is "<full>: <reason>": the reason as the system gave it
    error(string.format("%s: cannot open IDL file (%s)", path, rerr:sub(#full + 3)), 2)
  end
  if loaded[real] then
    return loaded[real]
  end
  local doc, err = idl.load(real, { include_dirs = include_dirs, warn = opts and opts.warn,
                                    read_file = read_idl })
  if not doc then
    error(err, 0)
  end
  local mod = schema.build(doc)
  local ok, cerr = pcall(core.compile, doc)
  if not ok then
    error(string.format("%s: %s", path, tostring(cerr)), 0)
  end
  loaded[real] = mod
  return mod
end

-- encode, decode and encode_message are the C functions themselves, not
-- Lua wrappers, so that an argument error points at the caller's line.

--- Encode `value` as the struct `struct` (a struct from a loaded module).
--- Returns the bytes, or nil, message, code.
M.encode = core.encode

--- Decode bytes into a value of the struct `struct`.
--- Returns the value, or nil, message, code.
M.decode = core.decode_value

--- Encode a whole message: `struct` is the args or result struct of a
--- function (mod.Service.by_name.method.args / .result), or nil to send a
--- TApplicationException given as {type = n, message = "..."}.
M.encode_message = core.encode_message

local function function_of(service, name)
  local fn = service.by_name[name] or service.by_name[name:match(":(.*)$") or ""]
  return fn
end

-- A service of a loaded module: its compiled descriptor and its functions.
local function is_service(service)
  return type(service) == "table" and rawget(service, "_csvc") ~= nil
    and type(rawget(service, "by_name")) == "table"
end

-- The arguments of decode_message(), checked here: the core functions it
-- calls would name themselves and their own argument positions.
local function check_decode_message(service, bytes, protocol)
  if not is_service(service) then
    argerror(1, "decode_message", "expected a service from thriftcorn.load()", 2)
  end
  local tb = type(bytes)
  if tb ~= "string" and tb ~= "number" then
    argerror(2, "decode_message", "string expected, got " .. tb, 2)
  end
  if protocol ~= nil and protocol ~= "binary" and protocol ~= "compact" then
    local tp = type(protocol)
    argerror(3, "decode_message", (tp == "string" or tp == "number")
      and string.format("invalid option '%s'", protocol) or "string expected, got " .. tp, 2)
  end
end

--- Decode a whole message sent to or from `service`. Returns a table
--- {name=, type=, seqid=, value=}: value holds the args for a call, the
--- result struct for a reply, or {type=, message=} for an exception.
--- Returns nil, message, code on bad bytes, a message type that is none
--- of MessageType's, or an unknown method.
function M.decode_message(service, bytes, protocol)
  check_decode_message(service, bytes, protocol)
  local name, mtype, seqid, pos = core.decode_message_header(bytes, protocol)
  if not name then
    return nil, mtype, seqid
  end
  if mtype < core.CALL or mtype > core.ONEWAY then
    return nil, string.format("%s message header: invalid message type %d", protocol or "binary",
      mtype), core.EPROTO
  end
  local msg = { name = name, type = mtype, seqid = seqid }
  local value, err, code
  if mtype == core.EXCEPTION then
    value, err, code = core.decode_appex(bytes, protocol, pos)
  else
    local fn = function_of(service, name)
    if not fn then
      return nil, string.format("%s has no function '%s'", service.fullname, name), core.ENOTFOUND
    end
    local struct = (mtype == core.REPLY) and fn.result or fn.args
    value, err, code = core.decode(struct, bytes, protocol, pos)
  end
  if value == nil then
    return nil, err, code
  end
  msg.value = value
  return msg
end

--- Block the calling handler thread for `seconds` (a float). Other
--- connections of the worker keep being served by other threads.
M.sleep = core.sleep

--- The THeader info headers of the call being handled, as a table
--- { key = value }; empty when the client did not use the header transport.
M.request_headers = core.request_headers

--- Set an info header on the reply of the call being handled (header
--- transport only). Returns true, false when the call did not come over
--- THeader, or nil, message, code when the reply's headers would be too big.
M.set_response_header = core.set_response_header

--- Raise a declared exception from a handler: thriftcorn.throw(mod.Err{...}).
--- The same as error(ex), kept for readability.
function M.throw(ex)
  error(ex, 0)
end

return M
