-- SPDX-License-Identifier: Apache-2.0
-- Thrift IDL loader, the entry point: thriftcorn.idl.grammar turns one
-- .thrift text into an AST (M.parse); thriftcorn.idl.resolve turns a file
-- and its includes into the doc that the C schema compiler and
-- thriftcorn.schema build on (M.load). Neither function ever raises:
-- thriftcorn.idl.failure turns every error into nil and a message.
-- The doc shape is a contract, described in docs/idl.md.

local failure = require("thriftcorn.idl.failure")
local grammar = require("thriftcorn.idl.grammar")
local loader = require("thriftcorn.idl.loader")

local M = {}

local protect = failure.protect

-- Parse one IDL text. Returns the AST, or nil and "file:line:col: message".
function M.parse(text, filename)
  if type(text) ~= "string" then
    return nil, "thriftcorn.idl.parse: text must be a string"
  end
  return protect(grammar.parse, text, filename or "<string>")
end

-- Load a .thrift file with its includes and resolve it into a doc.
-- opts: include_dirs (list), warn (function(msg)), cwd (for doc.path),
-- read_file (function(path) -> text, id | nil, why, found, missing: reads
-- each file; 'id' (may be nil) is the same for two paths of one file, as
-- the real path is, and tells files apart instead of the path's text;
-- 'found' true when a file is at the path though it could not be read, so
-- that the search for an include stops there; 'missing' true when there is
-- no file at the path; io.open(), which gives no 'id', by default).
-- Returns the doc, or nil and "file:line:col: message".
function M.load(path, opts)
  if type(path) ~= "string" then
    return nil, "thriftcorn.idl.load: path must be a string"
  end
  local ctx = loader.context(opts or {})
  return protect(loader.load, ctx, path)
end

return M
