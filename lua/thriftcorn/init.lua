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

--- Load a .thrift file and return its module (structs, enums, constants,
--- services). A relative path is resolved against the folder of the Lua file
--- that calls load(). Raises an error "file:line:col: message" on bad IDL.
function M.load(path, opts)
  if type(path) ~= "string" then
    error("thriftcorn.load: expected a path string, got " .. type(path), 2)
  end
  local full = resolve(path, 2)
  local real = core.realpath(full)
  if not real then
    error(string.format("%s: cannot open IDL file (no such file)", path), 2)
  end
  if loaded[real] then
    return loaded[real]
  end
  local include_dirs = (opts and opts.include_dirs) or M.include_dirs
  local doc, err = idl.load(real, { include_dirs = include_dirs, warn = opts and opts.warn })
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

--- Encode `value` as the struct `struct` (a struct from a loaded module).
--- Returns the bytes, or nil, message, code.
function M.encode(struct, value, protocol)
  return core.encode(struct, value, protocol)
end

--- Decode bytes into a value of the struct `struct`.
--- Returns the value, or nil, message, code.
function M.decode(struct, bytes, protocol)
  local value, err, code = core.decode(struct, bytes, protocol)
  if value == nil then
    return nil, err, code
  end
  return value
end

--- Encode a whole message: `struct` is the args or result struct of a
--- function (mod.Service.by_name.method.args / .result), or nil to send a
--- TApplicationException given as {type = n, message = "..."}.
function M.encode_message(name, mtype, seqid, struct, value, protocol)
  return core.encode_message(name, mtype, seqid, struct or false, value, protocol)
end

local function function_of(service, name)
  local fn = service.by_name[name] or service.by_name[name:match(":(.*)$") or ""]
  return fn
end

--- Decode a whole message sent to or from `service`. Returns a table
--- {name=, type=, seqid=, value=}: value holds the args for a call, the
--- result struct for a reply, or {type=, message=} for an exception.
--- Returns nil, message, code on bad bytes or an unknown method.
function M.decode_message(service, bytes, protocol)
  local name, mtype, seqid, pos = core.decode_message_header(bytes, protocol)
  if not name then
    return nil, mtype, seqid
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
