import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as NodeUrl from "node:url"
import { chromium } from "playwright-core"
import { Effect, Either } from "effect"
import * as Cluster from "../src/Cluster.js"
import * as History from "../src/History.js"
import * as Model from "../src/Model.js"
import * as Report from "../src/Report.js"
import type * as Results from "../src/Results.js"
import * as Runner from "../src/Runner.js"
import * as Test from "../src/Test.js"

const roots: Array<string> = []
afterAll(() => {
  for (const root of roots) NodeFs.rmSync(root, { recursive: true, force: true })
})

// Times in milliseconds, written in nanoseconds.
const event = (type: string, process: number, f: string, value: unknown, ms: number) => JSON.stringify({ type, process, f, value, time: ms * 1e6 })
const historyOf = (lines: ReadonlyArray<string>) => Either.getOrThrow(History.parse(lines.join("\n") + "\n", { format: "jsonl" }))

// write 1 by 0 [0, 10]; read → 1 by 1 [20, 30] (or → 2: stale, not linearizable); a cas by 2 that may have happened.
const valid = historyOf([
  event("invoke", 0, "write", 1, 0), event("ok", 0, "write", 1, 10),
  event("invoke", 1, "read", null, 20), event("ok", 1, "read", 1, 30),
  event("invoke", 2, "cas", [5, 6], 25), event("fail", 2, "cas", [5, 6], 40)
])
const invalid = historyOf([
  event("invoke", 0, "write", 1, 0), event("ok", 0, "write", 1, 10),
  event("invoke", 1, "read", null, 20), event("ok", 1, "read", 2, 30),
  event("invoke", 2, "write", 3, 25), event("info", 2, "write", 3, 40)
])
const faults = [{ tick: 0, description: "partition [n1] | [n2 n3]", started: 5e6, applied: 6e6, healed: 35e6 }]
let sessionDir = ""
let sessionResults: Results.SessionResults | undefined

const run = (tests: Record<string, Test.Test<any>>) => {
  const root = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "histories-"))
  roots.push(root)
  const cases = Object.entries(tests).flatMap(([name, t]) =>
    Test.expand(t, { module: "spec", file: "/nowhere/spec.ducktape.ts", suite: "H", name }, {}))
  return Runner.run({ cases, resultsRoot: root }).pipe(Effect.provide(Cluster.localhost({ numNodes: 1 })))
}

describe("Test.recordHistory", () => {
  it.live("checks the history, writes its files into the test's results and summarises it in the result", () =>
    Effect.gen(function*() {
      const session = yield* run({
        good: Test.make({ cluster: { numNodes: 1 } }, () => Test.recordHistory("register", { history: valid, faults }, { model: Model.casRegister() })),
        bad: Test.make({ cluster: { numNodes: 1 } }, () => Test.recordHistory("stale", { history: invalid, faults: [] }, { model: Model.casRegister() })),
        tolerated: Test.make(
          { cluster: { numNodes: 1 } },
          () => Test.recordHistory("stale read", { history: invalid }, { model: Model.casRegister(), failOnInvalid: false })
        ),
        none: Test.make({ cluster: { numNodes: 1 } }, () => Effect.void)
      })
      sessionDir = session.dir
      sessionResults = session.results
      const byName = new Map(session.results.results.map((r) => [r.name, r]))
      const good = byName.get("good")!
      expect(good.status).toBe("PASS")
      expect(good.histories).toEqual([{
        name: "register",
        file: "histories/register.jsonl",
        faultsFile: "histories/register.faults.json",
        verdictFile: "histories/register.verdict.json",
        model: "cas-register",
        verdict: "Valid",
        ops: 3,
        outcomes: { ok: 2, fail: 1, info: 0 }
      }])
      const dir = NodePath.join(session.dir, good.resultsDir)
      // The history file reads back as the same history; faults and verdict are JSON beside it.
      const back = yield* History.fromFile(NodePath.join(dir, "histories/register.jsonl"))
      expect(back.ops.map(({ line: _, ...op }) => op)).toEqual(valid.ops.map(({ line: _, ...op }) => op))
      expect(JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "histories/register.faults.json"), "utf8"))).toEqual(faults)
      expect(JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "histories/register.verdict.json"), "utf8"))._tag).toBe("Valid")

      const bad = byName.get("bad")!
      expect(bad.status).toBe("FAIL")
      expect(bad.summary).toContain("history stale: NOT linearizable")
      expect(bad.summary).toContain("process 1: read → 2")
      expect(bad.histories?.[0]).toMatchObject({ verdict: "Invalid", failingOp: 1, outcomes: { ok: 2, fail: 0, info: 1 } })

      const tolerated = byName.get("tolerated")!
      expect(tolerated.status).toBe("PASS")
      expect(tolerated.histories?.[0]).toMatchObject({ name: "stale read", file: "histories/stale_read.jsonl", verdict: "Invalid" })

      expect(byName.get("none")!.histories).toBeUndefined()
      // report.json keeps the summaries and reads back through the results schema.
      const decoded = Report.decodeJson(NodeFs.readFileSync(NodePath.join(session.dir, "report.json"), "utf8"))
      expect(Either.isRight(decoded)).toBe(true)
      const again = Either.getOrThrow(decoded).results.find((r) => r.name === "bad")
      expect(again?.histories?.[0]?.failingOp).toBe(1)
    }))
})

describe("Test.recordHistory, twice", () => {
  it.live("two histories of one name (or names that read alike as files) are both kept, the later as <name>-2", () =>
    Effect.gen(function*() {
      const session = yield* run({
        twice: Test.make({ cluster: { numNodes: 1 } }, () =>
          Effect.all([
            Test.recordHistory("register", { history: valid }, { model: Model.casRegister() }),
            Test.recordHistory("register", { history: invalid }, { model: Model.casRegister(), failOnInvalid: false }),
            Test.recordHistory("a b", { history: valid }),
            Test.recordHistory("a_b", { history: invalid })
          ], { concurrency: "unbounded" }))
      })
      const twice = session.results.results.find((r) => r.name === "twice")!
      expect(twice.status).toBe("PASS")
      const histories = twice.histories ?? []
      expect(histories.map((h) => h.file).sort()).toEqual([
        "histories/a_b-2.jsonl",
        "histories/a_b.jsonl",
        "histories/register-2.jsonl",
        "histories/register.jsonl"
      ])
      // Each summary names its own files, and each file holds its own history.
      const dir = NodePath.join(session.dir, twice.resultsDir)
      for (const h of histories) {
        const back = yield* History.fromFile(NodePath.join(dir, h.file))
        expect(back.ops.length).toBe(h.ops)
        expect(h.faultsFile).toBe(h.file.replace(/\.jsonl$/, ".faults.json"))
        expect(NodeFs.existsSync(NodePath.join(dir, h.faultsFile))).toBe(true)
      }
      expect(histories.filter((h) => h.name === "register").map((h) => h.verdict).sort()).toEqual(["Invalid", "Valid"])
    }))
})

describe("history pictures", () => {
  const svgOf = (test: string, file: string) => {
    const dir = NodeFs.readdirSync(sessionDir, { recursive: true, encoding: "utf8" }).find((p) => p.endsWith(NodePath.join(test, "histories", file)))
    expect(dir).toBeDefined()
    return NodeFs.readFileSync(NodePath.join(sessionDir, dir!), "utf8")
  }
  const attrs = (svg: string, tag: string, cls: string) =>
    [...svg.matchAll(new RegExp(`<${tag} class="${cls}"([^>]*)>`, "g"))].map((m) =>
      Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])))

  it("the latency plot has a point per op at its invoke time and latency (log scale), faults shaded", () => {
    const svg = svgOf("good", "register.latency.svg")
    // 40 ms of history over 810 px from x = 70; latencies 10, 10, 15 ms on a 1–100 ms log axis from y = 224 up 200 px.
    const points = [...attrs(svg, "circle", "op ok"), ...attrs(svg, "circle", "op fail")]
      .map((p) => [Number(p["data-id"]), Number(p["cx"]), Number(p["cy"])])
      .sort((a, b) => a[0]! - b[0]!)
    expect(points).toEqual([[0, 70, 124], [1, 475, 124], [2, 576.3, 106.4]])
    expect(attrs(svg, "rect", "fault")).toEqual([expect.objectContaining({ x: "191.5", width: "587.3" })])
  })

  it("lanes: a bar per op in its process's lane, info running to the end; an invalid verdict outlines its op and prefix", () => {
    const good = svgOf("good", "register.lanes.svg")
    const bars = attrs(good, "rect", "op [a-z]+").map((b) => [b["data-id"], b["y"], b["x"], b["width"]])
    expect(bars).toEqual([["0", "25", "70", "202.5"], ["1", "39", "475", "202.5"], ["2", "53", "576.3", "303.8"]])
    const bad = svgOf("bad", "stale.lanes.svg")
    expect(attrs(bad, "rect", "op ok failing").map((b) => b["data-id"])).toEqual(["1"])
    expect(attrs(bad, "rect", "op ok prefix").map((b) => b["data-id"])).toEqual(["0"])
    // The info write (invoked at 25 ms) runs to the end of the picture (40 ms: x = 880).
    const info = attrs(bad, "rect", "op info[a-z ]*")[0]!
    expect(Number(info["x"]) + Number(info["width"])).toBeCloseTo(880, 0)
  })

  it("the rate plot counts ops per second by outcome", () => {
    const svg = svgOf("good", "register.rate.svg")
    // One bucket of 40 ms: 2 ok = 50/s (the top of the axis), 1 fail = 25/s.
    expect(attrs(svg, "polyline", "rate ok")[0]!["points"]).toBe("475,24")
    expect(attrs(svg, "polyline", "rate fail")[0]!["points"]).toBe("475,124")
  })
})

const chromiumPath = "/usr/bin/chromium"

describe.skipIf(!NodeFs.existsSync(chromiumPath))("report.html with histories, in headless Chromium", () => {
  it("draws each test's histories: a point per op, a bar per op, the failing op outlined, no console errors", async () => {
    await Effect.runPromise(Report.writeAll(sessionDir, sessionResults!))
    const context = await chromium.launchPersistentContext(NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "profile-")), {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"]
    })
    try {
      const page = context.pages()[0] ?? await context.newPage()
      page.setDefaultTimeout(5_000)
      const errors: Array<string> = []
      page.on("pageerror", (e) => errors.push(e.message))
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") errors.push(m.text())
      })
      await page.goto(NodeUrl.pathToFileURL(NodePath.join(sessionDir, "report.html")).href)
      await page.locator("tr.test-row", { hasText: "bad" }).first().click()
      const detail = page.locator("tr.test-row.open + tr.detail-row")
      await detail.locator("svg.history-plot.lanes").waitFor()
      expect(await detail.locator(".history-summary").textContent()).toContain("NOT linearizable (op 1 cannot be placed")
      expect(await detail.locator("svg.history-plot.lanes rect.op").count()).toBe(3)
      expect(await detail.locator("svg.history-plot.lanes rect.failing").getAttribute("data-id")).toBe("1")
      expect(await detail.locator("svg.history-plot.latency circle.op").count()).toBe(3)
      expect(await detail.locator("svg.history-plot.rate polyline").count()).toBeGreaterThan(0)
      await detail.screenshot({ path: NodePath.join(NodeOs.tmpdir(), "histories-report.png") })
      await page.locator("tr.test-row", { hasText: "good" }).first().click()
      const good = page.locator("tr.test-row.open", { hasText: "good" }).locator("xpath=following-sibling::tr[1]")
      const cx = await good.locator("svg.history-plot.latency circle.op").evaluateAll((cs) => cs.map((c) => c.getAttribute("cx")))
      expect(cx.sort()).toEqual(["475", "576.3", "70"])
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })
})
