// The binder's compiled renderer writes, COPY-escaped, exactly what renderCommand gives:
// the two must never disagree on a command (what runs is what `drover task` shows).
import assert from "node:assert/strict";
import { test } from "node:test";
import { copyText } from "../../store/copy.ts";
import { renderCommand } from "../../submission/command.ts";
import { compileCommand } from "./render.ts";

test("compiled and plain rendering agree, quoted placeholders included", () => {
  const commands = [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable, kept for the shell
    "run {a} {b:q} {a:q} {{x}} ${HOME} {c}",
    "{a:q}{b}",
    "awk '{print $1}' {b:q} {{",
    "no placeholders at all \\t tab",
    "{a}{a}{a:q}}}",
  ];
  const values = ["1; rm -rf ~ #", "it's", "tab\there", "new\nline", "back\\slash", "", "ü"];
  for (const command of commands) {
    const render = compileCommand(command);
    for (const a of values) {
      for (const b of values) {
        const args = { a, b, c: "plain" };
        assert.equal(render(args), copyText(renderCommand(command, args)), `${command} ${a} ${b}`);
      }
    }
  }
});
