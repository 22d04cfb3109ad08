// DAG pictures as SVG: longest-path layering (a node's layer is 1 + the deepest of its
// upstream nodes), then a few barycentre sweeps to order each layer and cut crossings.
import { s } from "./dom.js";
import { BAR_ORDER, int, statusColor } from "./format.js";

/** Layers (arrays of ids, ordered) of a DAG given as ids and [upstream, downstream] pairs. */
export function layer(ids, edges) {
  const preds = new Map(ids.map((id) => [id, []]));
  const succs = new Map(ids.map((id) => [id, []]));
  const indegree = new Map(ids.map((id) => [id, 0]));
  for (const [u, d] of edges) {
    if (!preds.has(u) || !preds.has(d)) continue;
    preds.get(d).push(u);
    succs.get(u).push(d);
    indegree.set(d, indegree.get(d) + 1);
  }
  const depth = new Map();
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (const id of queue) depth.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const d of succs.get(id)) {
      depth.set(d, Math.max(depth.get(d) ?? 0, depth.get(id) + 1));
      indegree.set(d, indegree.get(d) - 1);
      if (indegree.get(d) === 0) queue.push(d);
    }
  }
  // A cycle cannot be bound; should one show up, its nodes go last rather than vanish.
  const maxDepth = Math.max(0, ...depth.values());
  for (const id of ids) if (!depth.has(id)) depth.set(id, maxDepth + 1);
  const layers = [];
  for (const id of ids) {
    const d = depth.get(id);
    while (layers.length <= d) layers.push([]);
    layers[d].push(id);
  }
  // Barycentre sweeps: down (by upstream positions), then up (by downstream positions).
  const position = new Map();
  const place = () => {
    for (const l of layers) {
      for (let i = 0; i < l.length; i++) position.set(l[i], i / Math.max(1, l.length - 1));
    }
  };
  place();
  const sweep = (l, neighbours) => {
    const key = new Map(
      l.map((id) => {
        const ns = neighbours.get(id).filter((n) => position.has(n));
        const mean = ns.length
          ? ns.reduce((a, n) => a + position.get(n), 0) / ns.length
          : position.get(id);
        return [id, mean];
      }),
    );
    l.sort((a, b) => key.get(a) - key.get(b));
  };
  for (let round = 0; round < 3; round++) {
    for (let i = 1; i < layers.length; i++) {
      sweep(layers[i], preds);
      place();
    }
    for (let i = layers.length - 2; i >= 0; i--) {
      sweep(layers[i], succs);
      place();
    }
  }
  return layers;
}

const NODE_W = 196;
const NODE_H = 62;
const COL_GAP = 72;
const ROW_GAP = 22;

/**
 * The template DAG, left to right. `templates`: the overview's per-template progress;
 * `dag.edges`: [upstream array, downstream array, edge count]. Nodes link to the tasks
 * of their template.
 */
export function templateDagSvg(templates, dag, { workflowId }) {
  const byId = new Map(templates.map((t) => [t.array_id, t]));
  const ids = dag.nodes.filter((id) => byId.has(id));
  const layers = layer(
    ids,
    dag.edges.map(([u, d]) => [u, d]),
  );
  const tallest = Math.max(1, ...layers.map((l) => l.length));
  const width = layers.length * NODE_W + (layers.length - 1) * COL_GAP + 16;
  const height = tallest * NODE_H + (tallest - 1) * ROW_GAP + 16;
  const pos = new Map();
  layers.forEach((l, col) => {
    const offset = ((tallest - l.length) * (NODE_H + ROW_GAP)) / 2;
    l.forEach((id, row) => {
      pos.set(id, { x: 8 + col * (NODE_W + COL_GAP), y: 8 + offset + row * (NODE_H + ROW_GAP) });
    });
  });
  const svg = s("svg", {
    class: "dag dag-templates",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "template DAG",
  });
  svg.append(arrowMarker("arrow-t"));
  const edgeGroup = s("g", { class: "edges" });
  for (const [u, d, n] of dag.edges) {
    const a = pos.get(u);
    const b = pos.get(d);
    if (!a || !b) continue;
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x - 3;
    const y2 = b.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    edgeGroup.append(
      s(
        "path",
        {
          d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
          class: "edge",
          "marker-end": "url(#arrow-t)",
        },
        s("title", {}, `${byId.get(u).name} → ${byId.get(d).name}: ${int(n)} task edges`),
      ),
    );
  }
  svg.append(edgeGroup);
  for (const id of ids) {
    const t = byId.get(id);
    const { x, y } = pos.get(id);
    const state = templateState(t);
    const g = s("a", {
      href: `/workflows/${workflowId}/tasks?template=${encodeURIComponent(t.name)}`,
      class: `node node-${state}`,
      dataset: { array: String(id) },
    });
    g.append(
      s("title", {}, `${t.name}: ${int(t.counts.DONE)} of ${int(t.total)} done`),
      s("rect", { x, y, width: NODE_W, height: NODE_H, rx: 8, class: "node-box" }),
      s("text", { x: x + 12, y: y + 21, class: "node-name" }, clip(t.name, 24)),
      s(
        "text",
        { x: x + NODE_W - 12, y: y + 21, class: "node-count", "text-anchor": "end" },
        `${int(t.counts.DONE)}/${int(t.total)}`,
      ),
    );
    // mini status bar
    const barX = x + 12;
    const barW = NODE_W - 24;
    let cursor = barX;
    g.append(
      s("rect", { x: barX, y: y + 36, width: barW, height: 10, rx: 3, class: "node-bar-bg" }),
    );
    for (const status of BAR_ORDER) {
      const n = t.counts[status] ?? 0;
      if (!n || !t.total) continue;
      const w = (n / t.total) * barW;
      g.append(
        s("rect", {
          x: cursor,
          y: y + 36,
          width: Math.max(w, 0.5),
          height: 10,
          fill: statusColor(status),
        }),
      );
      cursor += w;
    }
    svg.append(g);
  }
  return svg;
}

/** The state a template node is drawn in: its worst news first. */
function templateState(t) {
  const c = t.counts;
  if (c.ERROR_FATAL > 0) return "failed";
  if (t.total > 0 && c.DONE === t.total) return "done";
  if (c.RUNNING + c.LAUNCHED + c.INSTANTIATING + c.QUEUED > 0) return "running";
  if (c.ERROR_RECOVERABLE + c.ADJUSTING_RESOURCES > 0) return "retrying";
  return "pending";
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/**
 * The task DAG (small workflows), top to bottom; a wide layer wraps onto several rows.
 * Nodes are dots coloured by status, linked to their task page.
 */
export function taskDagSvg(taskDag, { maxWidth = 1180 } = {}) {
  const STEP_X = 24;
  const STEP_Y = 26;
  const LAYER_GAP = 46;
  const R = 7;
  const ids = taskDag.nodes.map((n) => n.id);
  const byId = new Map(taskDag.nodes.map((n) => [n.id, n]));
  const layers = layer(ids, taskDag.edges);
  const perRow = Math.max(1, Math.floor((maxWidth - 2 * STEP_X) / STEP_X));
  const widest = Math.min(perRow, Math.max(1, ...layers.map((l) => l.length)));
  const width = Math.max(200, widest * STEP_X + 2 * STEP_X);
  const pos = new Map();
  let y = 20;
  for (const l of layers) {
    const rows = Math.ceil(l.length / perRow);
    for (let r = 0; r < rows; r++) {
      const row = l.slice(r * perRow, (r + 1) * perRow);
      const x0 = (width - (row.length - 1) * STEP_X) / 2;
      for (let i = 0; i < row.length; i++) pos.set(row[i], { x: x0 + i * STEP_X, y });
      y += STEP_Y;
    }
    y += LAYER_GAP - STEP_Y;
  }
  const height = y - LAYER_GAP + STEP_Y + 6;
  const svg = s("svg", {
    class: "dag dag-tasks",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "task DAG",
  });
  const edgeGroup = s("g", { class: "edges" });
  for (const [u, d] of taskDag.edges) {
    const a = pos.get(u);
    const b = pos.get(d);
    if (!a || !b) continue;
    edgeGroup.append(s("line", { x1: a.x, y1: a.y + R, x2: b.x, y2: b.y - R, class: "edge" }));
  }
  svg.append(edgeGroup);
  for (const id of ids) {
    const n = byId.get(id);
    const { x, y: cy } = pos.get(id);
    svg.append(
      s(
        "a",
        { href: `/tasks/${id}`, class: "task-node", dataset: { task: String(id) } },
        s("circle", {
          cx: x,
          cy,
          r: R,
          fill: statusColor(n.status),
          dataset: { status: n.status },
        }),
        s("title", {}, `${n.name} — ${n.status}`),
      ),
    );
  }
  return svg;
}

/** Recolours task nodes after a tasks event (ids that moved to `status`). */
export function recolorTasks(svg, ids, status) {
  for (const id of ids) {
    const circle = svg.querySelector(`a[data-task="${Number(id)}"] circle`);
    if (!circle) continue;
    circle.setAttribute("fill", statusColor(status));
    circle.dataset.status = status;
    const title = circle.parentNode.querySelector("title");
    if (title) title.textContent = title.textContent.replace(/ — [A-Z_]+$/, ` — ${status}`);
  }
}

function arrowMarker(id) {
  return s(
    "defs",
    {},
    s(
      "marker",
      {
        id,
        viewBox: "0 0 10 10",
        refX: 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: "auto-start-reverse",
      },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }),
    ),
  );
}
