/**
 * report.html load time in headless Chromium for a big session: 2,000 tests on 50 nodes (each holding 1–4 nodes,
 * a service per test, a fault on every tenth), with the session timeline, side by side with the same tests
 * holding no nodes (the page without a timeline), taking turns. Prints one JSON object per measurement.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`). Run: `npx tsx bench/report.ts`.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { Effect } from "effect"
import { chromium } from "playwright-core"
import * as Report from "../src/Report.js"
import type { SessionResults, TestResult } from "../src/Results.js"

const numNodes = 50
const numTests = 2000
const rounds = 7
const T0 = Date.UTC(2026, 0, 15, 9, 30, 0)

/** A session as a scheduler would have run it: each test takes the nodes that come free first. */
const session = (withNodes: boolean): SessionResults => {
  let seed = 1
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  const free = Array.from({ length: numNodes }, () => T0)
  const results: Array<TestResult> = []
  for (let i = 0; i < numTests; i++) {
    const k = 1 + Math.floor(random() * 4)
    const taken = free.map((t, j) => [t, j] as const).sort((a, b) => a[0] - b[0]).slice(0, k)
    const from = Math.max(...taken.map(([t]) => t)) + 50
    const ms = 2_000 + random() * 60_000
    for (const [, j] of taken) free[j] = from + ms + 100
    const nodes = withNodes ? taken.map(([, j]) => `worker${j + 1}`) : []
    const status = random() < 0.05 ? "FAIL" : random() < 0.03 ? "FLAKY" : "PASS"
    results.push({
      testId: `mod${i % 20}.Suite.test_${i}.p=${i}`, module: `mod${i % 20}`, suite: "Suite", name: `test_${i}`, params: { p: i },
      description: "", file: `tests/mod${i % 20}.ducktape.ts`, symbol: `tests/mod${i % 20}.ducktape.ts::Suite.test_${i}@{"p":${i}}`,
      status, summary: status === "FAIL" ? "lag stayed above 1000 for 30 seconds" : "Test Passed",
      ...(status === "FAIL" ? { failure: { tag: "WaitTimeout", message: "lag stayed above 1000", detail: "WaitTimeout: lag stayed above 1000" } } : {}),
      attempts: [], startTime: from + 20, stopTime: from + ms, runTimeSeconds: ms / 1000, resultsDir: `test_${i}/1`,
      nodesAllocated: k, nodesUsed: k, nodes, allocations: withNodes ? [{ nodes, allocatedAt: from, releasedAt: from + ms + 50 }] : [],
      services: [{ id: `1-kafka-${i}`, name: "Kafka", nodes, startedAt: from + 200, stoppedAt: from + ms - 200, problems: [], notes: [] }],
      faults: i % 10 === 0 && withNodes
        ? [{ kind: "partition", target: nodes.join("|"), detail: "", appliedAt: from + 1_000, ...(i % 20 === 0 ? { healedAt: from + 1_500 } : {}) }]
        : []
    })
  }
  const stop = Math.max(...free)
  return {
    sessionId: "bench", frameworkVersion: "0.1.0", startTime: T0, stopTime: stop, runTimeSeconds: (stop - T0) / 1000,
    clusterNumNodes: numNodes, parallelism: 16, argv: [], interrupted: false, notRun: [], results
  }
}

const root = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `bench-report-${process.pid}-`))
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
})
try {
  const contenders = await Promise.all([true, false].map(async (withNodes) => {
    const dir = NodePath.join(root, withNodes ? "timeline" : "no-timeline")
    const s = session(withNodes)
    const t0 = performance.now()
    await Effect.runPromise(Report.writeAll(dir, s))
    const writeMs = performance.now() - t0
    const bytes = NodeFs.statSync(NodePath.join(dir, "report.html")).size
    return { name: withNodes ? "with timeline" : "without timeline (anchor)", url: NodeUrl.pathToFileURL(NodePath.join(dir, "report.html")).href, writeMs, bytes, times: [] as Array<number>, loads: [] as Array<number> }
  }))
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const errors: Array<string> = []
  page.on("pageerror", (e) => errors.push(e.message))
  for (let round = 0; round < rounds + 1; round++) {
    // taking turns, first one rotating; round 0 warms up
    for (const c of round % 2 === 0 ? contenders : [...contenders].reverse()) {
      await page.goto(c.url, { waitUntil: "load" })
      // until the frame after the script ran: the page as a person first sees it, table and timeline drawn
      const shown = (await page.evaluate(
        `new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()), 0)))`
      )) as number
      const load = (await page.evaluate(`performance.getEntriesByType("navigation")[0].loadEventEnd`)) as number
      if (round > 0) {
        c.times.push(shown)
        c.loads.push(load)
      }
    }
  }
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const anchor = median(contenders[1]!.times)
  for (const c of contenders) {
    console.log(JSON.stringify({
      bench: "report.html load, 2,000 tests on 50 nodes",
      contender: c.name,
      htmlBytes: c.bytes,
      writeAllMs: Math.round(c.writeMs),
      medianShownMs: Math.round(median(c.times)),
      medianLoadEventMs: Math.round(median(c.loads)),
      ratioToAnchor: Number((median(c.times) / anchor).toFixed(2)),
      rounds,
      loadavg: NodeOs.loadavg().map((l) => Number(l.toFixed(2)))
    }))
  }
  if (errors.length > 0) console.log(JSON.stringify({ pageErrors: errors }))
} finally {
  await browser.close()
  NodeFs.rmSync(root, { recursive: true, force: true })
}
