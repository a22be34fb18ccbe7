/**
 * A history as pictures, SVG text with no script: lanes (one per client process, each op a bar from invoke to
 * completion), Jepsen's latency-raw plot (a point per op at its invoke time, latency on a log scale) and rate plot
 * (ops per second by outcome). Faults are shaded across each. Written beside the history files and shown in
 * report.html. Histories above `maxOps` are drawn from their first `maxOps` ops, and the picture says so.
 */
import type { History, Operation } from "../../History.js"
import type { Verdict } from "../../Linearizability.js"
import type { FaultRecord } from "../../Workload.js"

/** At most this many ops are drawn per history. */
export const maxOps = 20_000

/** Colours by outcome, as in Jepsen's plots. */
export const colors = { ok: "#2f80ed", fail: "#d64545", info: "#e8a33d" } as const

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const n = (x: number) => (Math.round(x * 10) / 10).toString()

/** Layout shared by the three plots: where time runs, in pixels. */
export const width = 900
const left = 70
const right = 20

interface Frame {
  readonly ops: ReadonlyArray<Operation>
  readonly total: number
  readonly end: number
  readonly x: (t: number) => number
  readonly note: string
}

const frameOf = (history: History, faults: ReadonlyArray<FaultRecord>): Frame => {
  const ops = history.ops.length > maxOps ? history.ops.slice(0, maxOps) : history.ops
  let end = 1
  for (const op of ops) end = Math.max(end, op.invoke, op.complete)
  for (const f of faults) end = Math.max(end, f.applied, f.healed ?? 0)
  const span = width - left - right
  return {
    ops,
    total: history.ops.length,
    end,
    x: (t) => left + (Math.max(0, Math.min(t, end)) / end) * span,
    note: history.ops.length > maxOps
      ? `showing the first ${maxOps.toLocaleString("en")} of ${history.ops.length.toLocaleString("en")} ops`
      : ""
  }
}

const seconds = (nanos: number) => {
  const s = nanos / 1e9
  return s >= 10 ? `${s.toFixed(0)} s` : s >= 1 ? `${s.toFixed(1)} s` : `${(nanos / 1e6).toPrecision(2)} ms`
}

/** Time ticks along the bottom of a plot whose drawing area ends at `bottom`. */
const timeAxis = (f: Frame, bottom: number) => {
  const out = [`<line x1="${left}" y1="${bottom}" x2="${width - right}" y2="${bottom}" stroke="#888"/>`]
  for (let i = 0; i <= 5; i++) {
    const t = (f.end * i) / 5
    out.push(`<text x="${n(f.x(t))}" y="${bottom + 14}" text-anchor="middle">${seconds(t)}</text>`)
  }
  return out.join("")
}

const faultShades = (f: Frame, faults: ReadonlyArray<FaultRecord>, top: number, bottom: number) =>
  faults.map((fault) => {
    const from = f.x(fault.applied)
    const to = f.x(fault.healed ?? f.end)
    return `<rect class="fault" x="${n(from)}" y="${top}" width="${n(Math.max(1, to - from))}" height="${bottom - top}" fill="#777" fill-opacity="0.15"><title>${
      esc(fault.description)
    }</title></rect>`
  }).join("")

const svg = (height: number, title: string, body: string, note: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
  `font-family="sans-serif" font-size="10" fill="#333"><title>${esc(title)}</title><rect width="${width}" height="${height}" fill="#fff"/>` +
  body + (note === "" ? "" : `<text class="note" x="${width - right}" y="12" text-anchor="end">${esc(note)}</text>`) + `</svg>\n`

const describeOp = (op: Operation) =>
  `op ${op.id}, process ${String(op.process)}: ${op.f} ${JSON.stringify(op.value) ?? ""}${
    op.outcome === "ok" && op.output !== undefined ? ` → ${JSON.stringify(op.output)}` : ""
  } [${op.outcome}]`

const legend = (y: number) =>
  (["ok", "fail", "info"] as const).map((o, i) =>
    `<rect x="${left + i * 60}" y="${y - 8}" width="10" height="10" fill="${colors[o]}"/><text x="${left + i * 60 + 14}" y="${y}">${o}</text>`
  ).join("")

/** One lane per client process; an invalid verdict's failing op and the linearization prefix up to it stand out. */
export const lanes = (history: History, faults: ReadonlyArray<FaultRecord>, verdict?: Verdict): string => {
  const f = frameOf(history, faults)
  const processes = [...new Set(f.ops.map((op) => String(op.process)))].sort((a, b) =>
    Number.isFinite(Number(a)) && Number.isFinite(Number(b)) ? Number(a) - Number(b) : a < b ? -1 : 1
  )
  const row = processes.length > 60 ? 6 : 14
  const top = 24
  const lane = new Map(processes.map((p, i) => [p, top + i * row]))
  const bottom = top + processes.length * row
  const failing = verdict?._tag === "Invalid" ? verdict.counterexample.op.id : undefined
  const prefix = new Set(verdict?._tag === "Invalid" ? verdict.counterexample.prefix.map((s) => s.op.id) : [])
  const body: Array<string> = [faultShades(f, faults, top, bottom), legend(12)]
  processes.forEach((p, i) =>
    body.push(`<text x="${left - 6}" y="${top + i * row + row - 3}" text-anchor="end">${esc(p.length > 10 ? p.slice(0, 9) + "…" : p)}</text>`)
  )
  for (const op of f.ops) {
    const x = f.x(op.invoke)
    const to = op.outcome === "info" ? f.x(f.end) : f.x(op.complete)
    const cls = `op ${op.outcome}${op.id === failing ? " failing" : prefix.has(op.id) ? " prefix" : ""}`
    const mark = op.id === failing
      ? ` stroke="#000" stroke-width="2"`
      : prefix.has(op.id)
      ? ` stroke="#1b8e20" stroke-width="2"`
      : ""
    body.push(
      `<rect class="${cls}" data-id="${op.id}" x="${n(x)}" y="${lane.get(String(op.process))! + 1}" width="${n(Math.max(1.5, to - x))}" height="${
        row - 2
      }" fill="${colors[op.outcome]}"${op.outcome === "info" ? ` fill-opacity="0.35"` : ""}${mark}><title>${esc(describeOp(op))}</title></rect>`
    )
  }
  body.push(timeAxis(f, bottom + 2))
  return svg(bottom + 22, "operations by process", body.join(""), f.note)
}

const plotTop = 24
const plotBottom = 224

/** Jepsen's latency-raw: a point per op at its invoke time; y is its latency (ms, log scale). */
export const latency = (history: History, faults: ReadonlyArray<FaultRecord>): string => {
  const f = frameOf(history, faults)
  const millis = f.ops.map((op) => Math.max(1e-3, (op.complete - op.invoke) / 1e6))
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...millis, 1))))
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...millis, 1) * 1.0001)))
  const y = (ms: number) => plotBottom - ((Math.log10(ms) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (plotBottom - plotTop)
  const body: Array<string> = [faultShades(f, faults, plotTop, plotBottom), legend(12)]
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    body.push(`<line x1="${left}" x2="${width - right}" y1="${n(y(d))}" y2="${n(y(d))}" stroke="#eee"/>`)
    body.push(`<text x="${left - 6}" y="${n(y(d) + 3)}" text-anchor="end">${d >= 1 ? d.toFixed(0) : d.toPrecision(1)} ms</text>`)
  }
  f.ops.forEach((op, i) =>
    body.push(
      `<circle class="op ${op.outcome}" data-id="${op.id}" cx="${n(f.x(op.invoke))}" cy="${n(y(millis[i]!))}" r="2" fill="${colors[op.outcome]}"><title>${
        esc(describeOp(op))
      }</title></circle>`
    )
  )
  body.push(timeAxis(f, plotBottom))
  return svg(plotBottom + 22, "latency (ms, log scale) by invoke time", body.join(""), f.note)
}

/** Ops per second completing in each time bucket, one line per outcome. */
export const rate = (history: History, faults: ReadonlyArray<FaultRecord>): string => {
  const f = frameOf(history, faults)
  const buckets = Math.max(1, Math.min(100, Math.ceil(f.end / 1e9)))
  const bucket = f.end / buckets
  const counts = { ok: new Array<number>(buckets).fill(0), fail: new Array<number>(buckets).fill(0), info: new Array<number>(buckets).fill(0) }
  for (const op of f.ops) counts[op.outcome][Math.min(buckets - 1, Math.floor(op.complete / bucket))]!++
  const perSecond = (c: number) => c / (bucket / 1e9)
  const max = Math.max(1, ...(["ok", "fail", "info"] as const).flatMap((o) => counts[o].map(perSecond)))
  const y = (r: number) => plotBottom - (r / max) * (plotBottom - plotTop)
  const body: Array<string> = [faultShades(f, faults, plotTop, plotBottom), legend(12)]
  for (let i = 0; i <= 4; i++) {
    const r = (max * i) / 4
    body.push(`<line x1="${left}" x2="${width - right}" y1="${n(y(r))}" y2="${n(y(r))}" stroke="#eee"/>`)
    body.push(`<text x="${left - 6}" y="${n(y(r) + 3)}" text-anchor="end">${r >= 10 ? r.toFixed(0) : r.toPrecision(2)}/s</text>`)
  }
  for (const o of ["ok", "fail", "info"] as const) {
    if (counts[o].every((c) => c === 0)) continue
    const points = counts[o].map((c, i) => `${n(f.x((i + 0.5) * bucket))},${n(y(perSecond(c)))}`).join(" ")
    body.push(`<polyline class="rate ${o}" points="${points}" fill="none" stroke="${colors[o]}" stroke-width="1.5"/>`)
    // A mark per bucket too, so that a short history (one bucket) still shows its rate.
    counts[o].forEach((c, i) => body.push(`<circle class="rate-point ${o}" cx="${n(f.x((i + 0.5) * bucket))}" cy="${n(y(perSecond(c)))}" r="2.5" fill="${colors[o]}"/>`))
  }
  body.push(timeAxis(f, plotBottom))
  return svg(plotBottom + 22, "throughput (ops per second) by outcome", body.join(""), f.note)
}
