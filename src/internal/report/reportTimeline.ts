import type { SessionResults, TestResult, TestStatus } from "../../Results.js"

// The session timeline: one row per node, each test a bar on the nodes it held from allocation to release, faults
// on the nodes they hit, service starts and stops as ticks. One model, computed here, feeds both the page (as
// JSON, drawn by templates/report/report.js with zoom) and timeline.svg (drawn below, for CI systems that show an
// image but run no script).

/** A test's hold of one node: `t` is the test's index in the page's list of tests. */
export interface Bar {
  readonly t: number
  readonly node: number
  readonly from: number
  readonly to: number
  readonly status: TestStatus
  /** 1-based attempt under --deflake. */
  readonly attempt: number
}

/** A fault on one node; `to` is absent when it was never healed, and then it is drawn `until` its test ended. */
export interface FaultMark {
  readonly t: number
  readonly node: number
  readonly from: number
  readonly to?: number
  readonly until: number
  readonly kind: string
  /** Its index in the test's `faults`. */
  readonly f: number
}

/** A service starting (`start: true`) or stopping on a node. */
export interface Tick {
  readonly t: number
  readonly node: number
  readonly at: number
  readonly start: boolean
  readonly service: string
  /** Its index in the test's `services`. */
  readonly s: number
}

/** Everything both drawings need. Times are epoch milliseconds. */
export interface Timeline {
  readonly start: number
  readonly stop: number
  readonly nodes: ReadonlyArray<string>
  readonly bars: ReadonlyArray<Bar>
  readonly faults: ReadonlyArray<FaultMark>
  readonly ticks: ReadonlyArray<Tick>
}

/** worker2 before worker10. */
const natural = new Intl.Collator("en", { numeric: true }).compare

/** What a test held: the runner's allocations, or for older results its nodes over its run time. */
export const allocationsOf = (r: TestResult) =>
  r.allocations ?? (r.nodes.length === 0 ? [] : [{ nodes: r.nodes, allocatedAt: r.startTime, releasedAt: r.stopTime }])

/** The timeline of `tests` (in the page's order) within the session's times. */
export const timeline = (session: SessionResults, tests: ReadonlyArray<TestResult>): Timeline => {
  const names = new Set<string>()
  for (const r of tests) {
    for (const a of allocationsOf(r)) for (const n of a.nodes) names.add(n)
    for (const s of r.services) for (const n of s.nodes) names.add(n)
  }
  const nodes = [...names].sort(natural)
  const row = new Map(nodes.map((n, i) => [n, i]))
  const bars: Array<Bar> = []
  const faults: Array<FaultMark> = []
  const ticks: Array<Tick> = []
  let start = Number.isFinite(session.startTime) && session.startTime > 0 ? session.startTime : Infinity
  let stop = Number.isFinite(session.stopTime) ? session.stopTime : -Infinity
  const see = (ms: number | undefined) => {
    if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return
    if (ms < start) start = ms
    if (ms > stop) stop = ms
  }
  tests.forEach((r, t) => {
    const allocations = allocationsOf(r)
    const ended = Math.max(r.stopTime, ...allocations.map((a) => a.releasedAt))
    allocations.forEach((a, k) => {
      see(a.allocatedAt)
      see(a.releasedAt)
      for (const n of a.nodes) {
        bars.push({ t, node: row.get(n)!, from: a.allocatedAt, to: Math.max(a.releasedAt, a.allocatedAt), status: r.status, attempt: k + 1 })
      }
    })
    for (const [fi, f] of r.faults.entries()) {
      // A one-shot fault (a kill) is never healed: it lasts until its restart, or is a mark where it struck.
      const end = f.outcome === undefined ? f.healedAt : f.restartedAt ?? f.appliedAt
      see(f.appliedAt)
      see(end)
      // A fault names its nodes in its target ("worker1", "worker1|worker2", "worker1 -> worker2").
      const hit = new Set(f.target.split(/[^\w.-]+/).filter((w) => row.has(w)))
      for (const n of hit) {
        faults.push({
          t,
          node: row.get(n)!,
          from: f.appliedAt,
          ...(end === undefined ? {} : { to: end }),
          until: end ?? Math.max(ended, f.appliedAt),
          kind: f.kind,
          f: fi
        })
      }
    }
    for (const [si, s] of r.services.entries()) {
      see(s.startedAt)
      see(s.stoppedAt)
      for (const n of s.nodes) {
        ticks.push({ t, node: row.get(n)!, at: s.startedAt, start: true, service: s.name, s: si })
        if (s.stoppedAt !== undefined) ticks.push({ t, node: row.get(n)!, at: s.stoppedAt, start: false, service: s.name, s: si })
      }
    }
  })
  if (!Number.isFinite(start) || !Number.isFinite(stop) || stop <= start) {
    start = Number.isFinite(start) ? start : 0
    stop = start + 1000
  }
  return { start, stop, nodes, bars, faults, ticks }
}

/**
 * The timeline as the page carries it: tuples of integers, times in ms since `start`, names by index (the test's
 * own services and faults are in the page already). At 2,000 tests the objects above were 1.3 MB of JSON, most of
 * the page; these are about a quarter of that. templates/report/report.js decodes them.
 */
export const compact = (tl: Timeline) => {
  const at = (ms: number) => Math.round(ms - tl.start)
  return {
    start: tl.start,
    stop: tl.stop,
    nodes: tl.nodes,
    /** [test, node, from, to, attempt] */
    bars: tl.bars.map((b) => [b.t, b.node, at(b.from), at(b.to), b.attempt]),
    /** [test, node, from, to or -1 when never healed, until, index in the test's faults] */
    faults: tl.faults.map((f) => [f.t, f.node, at(f.from), f.to === undefined ? -1 : at(f.to), at(f.until), f.f]),
    /** [test, node, at, 1 for a start or 0 for a stop, index in the test's services] */
    ticks: tl.ticks.map((k) => [k.t, k.node, at(k.at), k.start ? 1 : 0, k.s])
  }
}

// ---------------------------------------------------------------------------------------------------------
// timeline.svg
// ---------------------------------------------------------------------------------------------------------

const escapeXml = (s: string): string =>
  // Characters XML 1.0 cannot hold at all are dropped; the rest of a test's strings is kept as text.
  s.replace(/[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, "")
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const colour: Record<TestStatus, string> = { PASS: "#2da44e", FAIL: "#cf222e", FLAKY: "#bf8700", IGNORE: "#8c959f" }

/** A step for axis ticks: about `count` of them over `span` ms, at round values. */
export const tickStep = (span: number, count: number): number => {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000)
  return steps.find((s) => span / s <= count) ?? Math.ceil(span / count / 86_400_000) * 86_400_000
}

/** "+1m 30s" style offsets for the axis. */
export const offsetLabel = (ms: number): string => {
  const s = Math.round(ms / 1000)
  if (s < 60) return `+${s}s`
  if (s < 3600) return `+${Math.floor(s / 60)}m${s % 60 === 0 ? "" : ` ${s % 60}s`}`
  return `+${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) === 0 ? "" : ` ${Math.floor((s % 3600) / 60)}m`}`
}

/** timeline.svg: the whole session at a fixed width, each bar with a <title> (its test, node and times). */
export const svg = (session: SessionResults, tests: ReadonlyArray<TestResult>): string => {
  const tl = timeline(session, tests)
  const width = 1600
  const left = 130
  const right = 16
  const top = 34
  const rowH = 18
  const chartW = width - left - right
  const height = top + Math.max(1, tl.nodes.length) * rowH + 30
  const span = tl.stop - tl.start
  const x = (ms: number) => left + ((ms - tl.start) / span) * chartW
  const f1 = (n: number) => n.toFixed(1)
  const out: Array<string> = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, sans-serif" font-size="11" data-start="${tl.start}" data-stop="${tl.stop}" ` +
      `data-left="${left}" data-width="${chartW}">`,
    `<title>ducktape session ${escapeXml(session.sessionId)}: ${tests.length} tests on ${tl.nodes.length} nodes</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="8" y="14" font-size="12" font-weight="600" fill="#1f2328">session ${escapeXml(session.sessionId)}</text>`
  )
  const step = tickStep(span, 12)
  for (let at = 0; at <= span; at += step) {
    out.push(
      `<line x1="${f1(x(tl.start + at))}" y1="${top - 4}" x2="${f1(x(tl.start + at))}" y2="${height - 30}" stroke="#d8dee4"/>`,
      `<text x="${f1(x(tl.start + at))}" y="${top - 8}" text-anchor="middle" fill="#656d76">${offsetLabel(at)}</text>`
    )
  }
  tl.nodes.forEach((n, i) => {
    const y = top + i * rowH
    if (i % 2 === 1) out.push(`<rect x="${left}" y="${y}" width="${chartW}" height="${rowH}" fill="#f6f8fa"/>`)
    out.push(`<text x="${left - 6}" y="${y + 13}" text-anchor="end" fill="#1f2328">${escapeXml(n)}</text>`)
  })
  out.push(`<g class="bars">`)
  for (const b of tl.bars) {
    const r = tests[b.t]!
    const w = Math.max(1, x(b.to) - x(b.from))
    out.push(
      `<rect class="bar ${b.status}" x="${f1(x(b.from))}" y="${top + b.node * rowH + 2}" width="${f1(w)}" height="${rowH - 4}" ` +
        `fill="${colour[b.status]}" stroke="#ffffff" stroke-width="0.5"><title>${escapeXml(r.testId)} (${b.status}` +
        `${b.attempt > 1 ? `, attempt ${b.attempt}` : ""}) on ${escapeXml(tl.nodes[b.node]!)}: ${offsetLabel(b.from - tl.start)} → ` +
        `${offsetLabel(b.to - tl.start)}</title></rect>`
    )
  }
  out.push(`</g><g class="faults">`)
  for (const f of tl.faults) {
    const to = f.until
    out.push(
      `<rect class="fault" x="${f1(x(f.from))}" y="${top + f.node * rowH + rowH - 5}" width="${f1(Math.max(2, x(to) - x(f.from)))}" ` +
        `height="4" fill="#8250df"><title>${escapeXml(f.kind)} on ${escapeXml(tl.nodes[f.node]!)}: ${offsetLabel(f.from - tl.start)} → ` +
        `${f.to === undefined ? "never healed" : offsetLabel(f.to - tl.start)}</title></rect>`
    )
  }
  out.push(`</g><g class="ticks">`)
  for (const k of tl.ticks) {
    const y = top + k.node * rowH
    out.push(
      `<line x1="${f1(x(k.at))}" y1="${y + 1}" x2="${f1(x(k.at))}" y2="${y + 7}" stroke="${k.start ? "#0969da" : "#57606a"}" ` +
        `stroke-width="1.5"><title>${escapeXml(k.service)} ${k.start ? "started" : "stopped"} on ${escapeXml(tl.nodes[k.node]!)}</title></line>`
    )
  }
  out.push(`</g>`)
  const legendY = height - 10
  const legend: Array<[string, string]> = [
    [colour.PASS, "passed"], [colour.FAIL, "failed"], [colour.FLAKY, "flaky"], [colour.IGNORE, "ignored"], ["#8250df", "fault"]
  ]
  let lx = left
  for (const [c, label] of legend) {
    out.push(`<rect x="${lx}" y="${legendY - 9}" width="12" height="10" fill="${c}"/><text x="${lx + 16}" y="${legendY}" fill="#656d76">${label}</text>`)
    lx += 30 + label.length * 6
  }
  out.push(`<text x="${lx}" y="${legendY}" fill="#656d76">blue tick: service started · grey tick: service stopped</text>`)
  out.push(`</svg>`, "")
  return out.join("\n")
}
