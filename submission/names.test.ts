import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { commandPlaceholders, renderCommand } from "./command.ts";
import { checkName, defaultTaskName } from "./names.ts";

describe("checkName", () => {
  test("control characters are refused, named as such", () => {
    for (const n of ["a\u0000b", "a\u0001b", "a\u001bb", "a\u007fb"]) {
      assert.match(checkName("task", n) ?? "", /a control character/, JSON.stringify(n));
    }
  });
  test("accepts names", () => {
    for (const n of ["prep", "prep_location-1", "a.b:c", "_x", "é", "x".repeat(255)]) {
      assert.equal(checkName("task", n), null, n);
    }
  });
  const bad: [string, RegExp][] = [
    ["", /task name is empty/],
    ["1abc", /task name "1abc" starts with a digit/],
    ["a b", /task name "a b" contains whitespace/],
    ["a\tb", /contains whitespace/],
    ["a/b", /contains "\/"/],
    ["a\\b", /contains "\\"/],
    ["a'b", /contains "'"/],
    ['a"b', /contains """/],
    ["x".repeat(256), /longer than 255 characters/],
  ];
  for (const [name, message] of bad) {
    test(`rejects ${JSON.stringify(name.slice(0, 20))}`, () => {
      assert.match(checkName("task", name) ?? "", message);
    });
  }
  test("names the kind", () => assert.match(checkName("tool", "9") ?? "", /^tool name "9"/));
});

describe("defaultTaskName", () => {
  test("template and node args in order", () => {
    const args = { year: "2020", location: "3" };
    assert.equal(defaultTaskName("prep", ["location", "year"], args), "prep_location-3_year-2020");
  });
  test("no node args: the template name", () =>
    assert.equal(defaultTaskName("report", [], {}), "report"));
  test("replaces characters not allowed in names", () => {
    assert.equal(
      defaultTaskName("p", ["path"], { path: '/data/my file\'s "x"\\y' }),
      "p_path-_data_my_file_s__x__y",
    );
  });
  test("long names are cut and stay distinct", () => {
    const a = defaultTaskName("p", ["v"], { v: `${"x".repeat(300)}a` });
    const b = defaultTaskName("p", ["v"], { v: `${"x".repeat(300)}b` });
    assert.equal(a.length, 255);
    assert.notEqual(a, b);
    assert.equal(checkName("task", a), null);
  });
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable, on purpose
const HOME = "${HOME}";

describe("command placeholders", () => {
  test("found in order, escapes and shell variables skipped", () => {
    const cmd = `run {a} {b} {a} {{literal}} ${HOME} awk '{print $1}' {c_1}`;
    assert.deepEqual(commandPlaceholders(cmd), ["a", "b", "c_1"]);
  });
  test("render", () => {
    const cmd = `run --x {a} {{b}} ${HOME} {missing}`;
    assert.equal(renderCommand(cmd, { a: "1 2" }), `run --x 1 2 {b} ${HOME} {missing}`);
  });
  test("{name:q} inserts the value shell-quoted; {name} as written", () => {
    const cmd = "run {a} {a:q} {b:q}";
    assert.deepEqual(commandPlaceholders(cmd), ["a", "b"]);
    assert.equal(
      renderCommand(cmd, { a: "1; rm -rf ~ #", b: "it's" }),
      `run 1; rm -rf ~ # '1; rm -rf ~ #' 'it'\\''s'`,
    );
    assert.equal(renderCommand("{x:q}", { x: "" }), "''");
  });
  test("a quoted value reaches the command as exactly one word, whatever it holds", () => {
    const values = [
      "1; touch /tmp/drover-quoting-probe #",
      "$(id)",
      "`id`",
      "a'b\"c",
      "line\nbreak",
      "back\\slash",
      "*",
      "--flag=x y",
      "'",
      "",
      "ünïcödé ✓",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the value of a shell variable's name
      "${HOME}",
    ];
    for (const v of values) {
      const r = spawnSync("/bin/sh", ["-c", renderCommand(`printf '%s|' {v:q}`, { v })], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${v}|`, JSON.stringify(v));
    }
  });
});
