// drover wait WF: follow a workflow to its end, as submit --wait does; a client that died
// or a new terminal comes back to a running workflow this way.
import { followWorkflow } from "../../client/follow.ts";
import { defineCommand } from "../args.ts";
import { parseId, withBus } from "../context.ts";
import { waitAndReport } from "../wait.ts";

export const command = defineCommand({
  name: "wait",
  summary: "follow a workflow until it ends (as submit --wait)",
  usage: `Usage: drover wait WF [--json]

Follow workflow WF until it ends, with the same progress and exit codes as
'drover submit --wait': 0 when it ends DONE, 1 when it ends FAILED, HALTED or ABORTED.
The workflow runs on the Drover stack: waiting, or stopping to wait (Ctrl-C), changes
nothing for it. A workflow that ended already is reported at once.

Options:
  --json      print the final status, as 'drover status --json'
  -h, --help  show this help

Example:
  drover wait 12
`,
  options: { json: { type: "boolean" } },
  positionals: ["WF"],
  async run({ positionals, json }, io) {
    const id = parseId(positionals[0], "WF");
    return withBus(io, (nc) =>
      waitAndReport(io, json, (onProgress) => followWorkflow(nc, id, { onProgress })),
    );
  },
});
