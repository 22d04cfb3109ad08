import assert from "node:assert/strict";
import { test } from "node:test";
import { isToken, userFromToken, userToken } from "./identity.ts";

test("user tokens are subject-safe, one-to-one, and decode back", () => {
  const names = ["alice", "a.b", "A.b", "a_b", "a*b>", "jean-luc", "Zoë", "a b", "_x2e"];
  const tokens = names.map(userToken);
  for (const [i, token] of tokens.entries()) {
    assert.ok(isToken(token), token);
    assert.match(token, /^[a-z0-9_-]+$/);
    assert.equal(userFromToken(token), names[i]);
  }
  assert.equal(new Set(tokens).size, names.length, "two names share a token");
  assert.equal(userToken("alice"), "alice");
  assert.equal(userToken("a.b"), "a_2eb");
  assert.throws(() => userToken(""), /empty/);
  assert.throws(() => userFromToken("a.b"), /not a user token/);
});
