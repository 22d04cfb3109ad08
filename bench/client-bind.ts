/**
 * The TypeScript side of `npm run bench -- python`: the workflow of client_bind.py built
 * the same way (a task at a time, each model task naming its prep task) with the
 * TypeScript client, and bound (held) over NATS. Prints {"id", "tasks", "build", "bind"}.
 *
 * Usage: node --import tsx bench/client-bind.ts SIDE
 */
import { connectBus } from "../bus/connect.ts";
import { submitWorkflow, Tool } from "../client/index.ts";

const side = Number(process.argv[2]);
const t0 = performance.now();
const tool = new Tool("bench", "1");
const prep = tool.template({
  name: "prep",
  command: "prep --loc {location}",
  nodeArgs: ["location"],
});
const model = tool.template({
  name: "model",
  command: "model --loc {location} --year {year}",
  nodeArgs: ["location", "year"],
});
const wf = tool.workflow({ name: `typescript bench ${side}`, defaultCluster: "dummy" });
let tasks = 0;
for (let location = 1; location <= side; location++) {
  const p = prep.createTask({ args: { location } });
  wf.addTask(p);
  tasks++;
  for (let year = 1990; year < 1990 + side; year++) {
    wf.addTask(model.createTask({ args: { location, year }, upstream: [p] }));
    tasks++;
  }
}
const submission = wf.toSubmission();
const t1 = performance.now();
const nc = await connectBus(process.env.DROVER_NATS_URL ?? "nats://127.0.0.1:4222", "bench");
const bound = await submitWorkflow(nc, submission, { hold: true });
const t2 = performance.now();
await nc.close();
console.log(
  JSON.stringify({ id: bound.workflow_id, tasks, build: (t1 - t0) / 1000, bind: (t2 - t1) / 1000 }),
);
process.exit(0);
