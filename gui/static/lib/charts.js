// A histogram of what attempts used, with markers for what was requested and what to
// request: the Resources page's picture.
import { s } from "./dom.js";
import { bytes, duration, int } from "./format.js";

const W = 520;
const H = 150;
const PAD = { left: 34, right: 10, top: 14, bottom: 26 };

/**
 * `dist`: a Distribution of /api/workflows/:id/resources; `fmt` formats a value of the
 * resource (bytes or seconds).
 */
export function histogram(dist, fmt, { label }) {
  const svg = s("svg", {
    class: "histogram",
    viewBox: `0 0 ${W} ${H}`,
    width: "100%",
    role: "img",
    "aria-label": `${label}: distribution of what DONE attempts used`,
  });
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const n = dist.buckets.length;
  const most = Math.max(1, ...dist.buckets);
  const bw = innerW / n;
  const x = (v) => PAD.left + (Math.min(v, dist.hi) / dist.hi) * innerW;
  svg.append(
    s("line", {
      x1: PAD.left,
      y1: PAD.top + innerH,
      x2: W - PAD.right,
      y2: PAD.top + innerH,
      class: "axis",
    }),
    s("text", { x: PAD.left - 6, y: PAD.top + 4, class: "tick", "text-anchor": "end" }, int(most)),
    s("text", { x: PAD.left - 6, y: PAD.top + innerH, class: "tick", "text-anchor": "end" }, "0"),
    s("text", { x: PAD.left, y: H - 8, class: "tick" }, fmt(0)),
    s("text", { x: W - PAD.right, y: H - 8, class: "tick", "text-anchor": "end" }, fmt(dist.hi)),
  );
  dist.buckets.forEach((count, i) => {
    if (!count) return;
    const bh = (count / most) * innerH;
    const lo = (dist.hi / n) * i;
    const hi = (dist.hi / n) * (i + 1);
    svg.append(
      s(
        "rect",
        {
          x: PAD.left + i * bw + 1,
          y: PAD.top + innerH - bh,
          width: Math.max(1, bw - 2),
          height: bh,
          class: "bar",
        },
        s("title", {}, `${fmt(lo)} – ${fmt(hi)}: ${int(count)} attempts`),
      ),
    );
  });
  const marker = (value, cls, text) => {
    if (value === null || value === undefined) return;
    if (value > dist.hi) {
      // Off the scale: said at the right edge, with an arrow.
      svg.append(
        s(
          "text",
          {
            x: W - PAD.right,
            y: PAD.top + (cls === "requested" ? 6 : 20),
            class: `marker-label ${cls}`,
            "text-anchor": "end",
          },
          `${text} ${fmt(value)} →`,
        ),
      );
      return;
    }
    const mx = x(value);
    svg.append(
      s("line", { x1: mx, y1: PAD.top - 4, x2: mx, y2: PAD.top + innerH, class: `marker ${cls}` }),
      s(
        "text",
        {
          x: mx + (mx > W - 120 ? -4 : 4),
          y: PAD.top + (cls === "requested" ? 6 : 20),
          class: `marker-label ${cls}`,
          "text-anchor": mx > W - 120 ? "end" : "start",
        },
        `${text} ${fmt(value)}`,
      ),
    );
  };
  marker(dist.requested.median, "requested", "requested");
  marker(dist.suggested, "suggested", "suggested");
  return svg;
}

/**
 * A scatter of [memory bytes, runtime seconds, instance] points: runtime across, memory
 * up, both from 0 to the largest value seen (`data-hi-runtime`, `data-hi-memory` on the
 * svg say the scale, so a point's place can be checked).
 */
export function scatter(points, { label }) {
  const hiMem = Math.max(1, ...points.map((p) => p[0]));
  const hiRun = Math.max(1e-9, ...points.map((p) => p[1]));
  const svg = s("svg", {
    class: "scatter",
    viewBox: `0 0 ${W} ${H}`,
    width: "100%",
    role: "img",
    "aria-label": label,
    dataset: { hiMemory: String(hiMem), hiRuntime: String(hiRun) },
  });
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  svg.append(
    s("line", {
      x1: PAD.left,
      y1: PAD.top + innerH,
      x2: W - PAD.right,
      y2: PAD.top + innerH,
      class: "axis",
    }),
    s("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + innerH, class: "axis" }),
    s(
      "text",
      { x: PAD.left - 4, y: PAD.top + 4, class: "tick", "text-anchor": "end" },
      bytes(hiMem),
    ),
    s("text", { x: W - PAD.right, y: H - 8, class: "tick", "text-anchor": "end" }, duration(hiRun)),
    s("text", { x: PAD.left, y: H - 8, class: "tick" }, "0"),
  );
  for (const [memory, runtime, instance] of points) {
    svg.append(
      s(
        "circle",
        {
          class: "point",
          cx: PAD.left + (runtime / hiRun) * innerW,
          cy: PAD.top + innerH - (memory / hiMem) * innerH,
          r: 3,
          dataset: { instance: String(instance), memory: String(memory), runtime: String(runtime) },
        },
        s("title", {}, `instance ${instance}: ${bytes(memory)}, ${duration(runtime)}`),
      ),
    );
  }
  return svg;
}
