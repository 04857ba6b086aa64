-- SPDX-License-Identifier: Apache-2.0
-- Specs of lua/thriftcorn/spell.lua: the edit distance and the nearest name.
local spell = require("thriftcorn.spell")

describe("thriftcorn.spell", function()
  it("counts insertions, deletions, substitutions and swaps of neighbours", function()
    local cases = {
      { "", "", 0 }, { "", "abc", 3 }, { "abc", "", 3 }, { "ping", "ping", 0 },
      { "ping", "pin", 1 }, { "pin", "ping", 1 }, { "ping", "pong", 1 },
      { "ping", "pnig", 1 }, { "ab", "ba", 1 }, { "abcd", "badc", 2 },
      { "ca", "abc", 3 }, { "kitten", "sitting", 3 },
    }
    for _, c in ipairs(cases) do
      assert.equal(c[3], spell.distance(c[1], c[2]), c[1] .. " ~ " .. c[2])
    end
  end)

  it("finds the nearest name within a third of its length, case, '_' and '-' aside", function()
    assert.equal("Ping", spell.nearest("ping", { "other", "Ping" }))
    assert.equal("pnig", spell.nearest("ping", { "pnig" }))
    assert.equal("get_struct", spell.nearest("getStruct", { "get_struct", "put" }))
    assert.equal("workers", spell.nearest("wokers", { "threads", "workers" }))
    assert.is_nil(spell.nearest("ping", { "pang_pong", "other" }))
    assert.is_nil(spell.nearest("ping", {}))
    -- two edits are too many for four letters, not for nine
    assert.is_nil(spell.nearest("ping", { "pxyg" }))
    assert.equal("max_requests", spell.nearest("max_reqets", { "max_requests" }))
    -- a name far longer than any is compared with none
    assert.is_nil(spell.nearest(string.rep("w", 100), { string.rep("w", 100) }))
  end)

  it("takes the least of equally near names, whatever their order", function()
    assert.equal("pinh", spell.nearest("ping", { "pinj", "pinh" }))
    assert.equal("pinh", spell.nearest("ping", { "pinh", "pinj" }))
  end)
end)
