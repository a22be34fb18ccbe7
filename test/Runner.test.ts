import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import * as Cluster from "../src/Cluster.js"
import * as Lab from "../src/Lab.js"
import { isAlive } from "./support/processes.js"
import * as Runner from "../src/Runner.js"
import * as Service from "../src/Service.js"
import * as Test from "../src/Test.js"
import { TestContext } from "../src/TestContext.js"
import * as Wait from "../src/Wait.js"
import { scopedLab } from "./support/lab.js"

const where = (name: string, suite = "RunnerSpec") => ({ module: "spec", file: "/nowhere/spec.ducktape.ts", suite, name })
const casesOf = (tests: Record<string, Test.Test<any>>) =>
  Object.entries(tests).flatMap(([name, t]) => Test.expand(t, where(name), {}))


const roots: Array<string> = []
const resultsRoot = () => {
  const root = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "runner-results-"))
  roots.push(root)
  return root
}
afterAll(() => {
  for (const root of roots) NodeFs.rmSync(root, { recursive: true, force: true })
})

// A service whose node runs a real process until stopped: the runner must tear it down on every exit path.
const Sleeper = Service.make({
  name: "sleeper",
  logs: { out: { path: "sleeper.log", collectDefault: false } },
  startNode: (node) =>
    Effect.gen(function*() {
      const p = yield* node.account.startProcess("echo started >> sleeper.log; exec sleep 600")
      yield* node.account.createFile("sleeper.pid", String(p.pid))
    })
})

const runOn = (numNodes: number, options: Runner.RunOptions) =>
  Runner.run(options).pipe(Effect.provide(Cluster.localhost({ numNodes })))

describe("Runner", () => {
  it.live("runs tests in parallel on sub-clusters, largest first, with statuses, data and a results layout", () =>
    Effect.gen(function*() {
      const seen: Array<{ id: string; nodes: number; start: number; alongside: boolean }> = []
      // The big test waits (bounded) for a small one to start beside it: no timing guess, however loaded the machine.
      const smallStarted = yield* Deferred.make<void>()
      const track = (id: string) =>
        Effect.gen(function*() {
          const ctx = yield* TestContext
          const start = Date.now()
          if (id !== "big") yield* Deferred.succeed(smallStarted, undefined)
          const alongside = id === "big"
            ? Option.isSome(yield* Effect.timeout(Deferred.await(smallStarted), "10 seconds").pipe(Effect.option))
            : true
          seen.push({ id, nodes: ctx.cluster.size, start, alongside })
          return { id, nodes: ctx.cluster.all.map((n) => n.name) }
        })
      const cases = casesOf({
        small: Test.make({ cluster: 1, matrix: { i: [1, 2, 3] } }, ({ i }) => track(`small${i}`)),
        big: Test.make({ cluster: 3 }, () => track("big")),
        skipped: Test.make({ ignore: true }, () => Effect.void),
        broken: Test.make(() => Effect.fail(new Error("it broke"))),
        tooBig: Test.make({ cluster: 9 }, () => Effect.void)
      })
      const root = resultsRoot()
      const startOrder: Array<string> = []
      const session = yield* runOn(4, {
        cases,
        loadFailures: [{ file: "/nowhere/bad.ducktape.ts", module: "bad", symbol: "bad.ducktape.ts", error: "SyntaxError: nope" }],
        maxParallel: 4,
        resultsRoot: root,
        onEvent: (e) => Effect.sync(() => e._tag === "TestStarted" && startOrder.push(e.testId))
      })
      const byId = new Map(session.results.results.map((r) => [r.testId, r]))
      expect(byId.get("spec.RunnerSpec.small.i=1")?.status).toBe("PASS")
      expect(byId.get("spec.RunnerSpec.big")?.status).toBe("PASS")
      expect(byId.get("spec.RunnerSpec.skipped")?.status).toBe("IGNORE")
      expect(byId.get("spec.RunnerSpec.broken")?.status).toBe("FAIL")
      expect(byId.get("spec.RunnerSpec.broken")?.summary).toMatch(/it broke/)
      expect(byId.get("spec.RunnerSpec.tooBig")?.summary).toMatch(/needs 9 nodes but the whole cluster has 4/)
      expect(byId.get("bad")?.status).toBe("FAIL")
      expect(byId.get("bad")?.summary).toMatch(/SyntaxError: nope/)
      // The 3-node test was scheduled first; a 1-node test used the 4th node alongside it.
      const big = seen.find((s) => s.id === "big")!
      const smalls = seen.filter((s) => s.id !== "big")
      expect(big.nodes).toBe(3)
      expect(smalls).toHaveLength(3)
      expect(startOrder[0]).toBe("spec.RunnerSpec.big")
      expect(big.alongside).toBe(true)
      // Results: data.json and the test's own log per test, reports at the session root, `latest` link.
      const dir = NodePath.join(session.dir, byId.get("spec.RunnerSpec.big")!.resultsDir)
      const bigData = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "data.json"), "utf8"))
      expect(bigData.id).toBe("big")
      // The result names the nodes the test was given, as the test itself saw them.
      expect(byId.get("spec.RunnerSpec.big")!.nodes).toEqual(bigData.nodes)
      expect(bigData.nodes).toHaveLength(3)
      expect(NodeFs.existsSync(NodePath.join(dir, "test_log.debug"))).toBe(true)
      for (const f of ["report.txt", "report.json", "report.xml", "report.html", "results.jsonl"]) {
        expect(NodeFs.existsSync(NodePath.join(session.dir, f))).toBe(true)
      }
      expect(NodeFs.readlinkSync(NodePath.join(root, "latest"))).toBe(NodePath.basename(session.dir))
      // The run's own log sits with its results: every start and end, timestamped. (A line may come before the
      // session's first: the leftovers of crashed sessions it removed, when a killed driver of another test left some.)
      const log = NodeFs.readFileSync(NodePath.join(session.dir, "session.log"), "utf8")
      expect(log).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] session .*: running 8 tests/m)
      expect(log).toMatch(/\] START spec\.RunnerSpec\.big on worker\d,worker\d,worker\d\n/)
      expect(log).toMatch(/\] FAIL   spec\.RunnerSpec\.broken \([\d.]+s\): .*it broke/)
      expect(session.results.results.map((r) => r.testId).filter((id) => id.includes("small"))).toEqual(
        ["spec.RunnerSpec.small.i=1", "spec.RunnerSpec.small.i=2", "spec.RunnerSpec.small.i=3"].filter((id) =>
          session.results.results.some((r) => r.testId === id)
        )
      )
    }))

  it.live("a per-test timeout interrupts the test, tears its services down and collects their logs", () =>
    Effect.gen(function*() {
      let pid = 0
      const cases = casesOf({
        hangs: Test.make({ timeout: "1 second" }, () =>
          Effect.gen(function*() {
            const svc = yield* Sleeper.start()
            pid = Number(yield* svc.node(1).account.readFile("sleeper.pid"))
            return yield* Effect.never
          }))
      })
      const session = yield* runOn(1, { cases, resultsRoot: resultsRoot() })
      const result = session.results.results[0]!
      expect(result.status).toBe("FAIL")
      expect(result.summary).toMatch(/timed out after 1s/)
      expect(result.runTimeSeconds).toBeLessThan(20)
      // The failed test's logs were collected although collectDefault is false.
      const log = NodePath.join(session.dir, result.resultsDir, "sleeper-1", "worker1", "sleeper.log")
      expect(NodeFs.readFileSync(log, "utf8")).toContain("started")
      // The process the service started is gone.
      expect(pid).toBeGreaterThan(0)
      expect(isAlive(pid)).toBe(false)
    }))

  it.live("a test that blocks past its timeout (so it cannot be interrupted) still fails for it", () =>
    Effect.gen(function*() {
      const cases = casesOf({
        blocks: Test.make({ timeout: "1 second" }, () =>
          Effect.sync(() => {
            const end = Date.now() + 1_500
            while (Date.now() < end) {
              // busy: never yields to the event loop
            }
          }))
      })
      const session = yield* runOn(1, { cases, resultsRoot: resultsRoot() })
      const result = session.results.results[0]!
      expect(result.status).toBe("FAIL")
      expect(result.summary).toMatch(/ran for 1\.\d+s, past its timeout of 1s: it did not yield/)
    }))

  it.live("globals are the same for every test: a test cannot change what the next one reads", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const cases = casesOf({
        a: Test.make(() => Effect.flatMap(TestContext, (ctx) => Effect.sync(() => {
          ;(ctx.globals["nested"] as { x: number }).x = 2
        }))),
        b: Test.make(() => Effect.flatMap(TestContext, (ctx) => Effect.sync(() => seen.push(ctx.globals["nested"])))),
        // What is not plain data (a client object handed in by a program) is passed as it is, still working.
        c: Test.make(() => Effect.flatMap(TestContext, (ctx) => Effect.sync(() => seen.push((ctx.globals["counter"] as Counter).next()))))
      })
      class Counter {
        private n = 0
        next() {
          return ++this.n
        }
      }
      const given = { nested: { x: 1 }, counter: new Counter() }
      const session = yield* runOn(1, { cases, maxParallel: 1, globals: given, resultsRoot: resultsRoot() })
      expect(session.results.results.map((r) => r.status)).toEqual(["FAIL", "PASS", "PASS"])
      expect(session.results.results[0]!.summary).toMatch(/read.only|frozen|Cannot assign/i)
      expect(seen).toEqual([{ x: 1 }, 1])
      expect(Object.isFrozen(given)).toBe(false) // the caller's own object is left as it was
    }))

  it.scopedLive("a node that stops answering during a failed test is taken out of the run; what no longer fits fails saying why", () =>
    Effect.gen(function*() {
      // A 2-host lab: real ssh nodes in network namespaces of their own.
      const { lab } = yield* scopedLab("rn", 2)
      const lost: Array<string> = []
      const ranOn: Record<string, string> = {}
      const where = (id: string) =>
        Effect.flatMap(TestContext, (ctx) => Effect.sync(() => (ranOn[id] = ctx.cluster.all[0]!.name)))
      const cases = casesOf({
        // One of its nodes stops answering ssh (every packet to port 22 dropped, in that host's own firewall); it fails.
        breaksANode: Test.make({ cluster: 2 }, () =>
          Effect.gen(function*() {
            const node = (yield* TestContext).cluster.all[0]!
            ranOn["breaksANode"] = node.name
            // From this machine, into that host's namespace: done before the test fails, however loaded the machine.
            const argv = Lab.netnsExec(lab.nodes.find((n) => n.name === node.name)!, ["iptables", "-I", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP"])
            ChildProcess.execFileSync(argv[0]!, argv.slice(1))
            return yield* Test.check(false, "its node went away")
          })),
        // Scheduled after it (same size, selection order): it can no longer fit.
        needsBoth: Test.make({ cluster: 2 }, () => Effect.void),
        afterwards: Test.make(() => where("afterwards"))
      })
      const session = yield* Runner.run({
        cases,
        maxParallel: 1,
        // Its retry no longer fits either: it must end with the failure it had, not a scheduling message.
        deflake: 2,
        resultsRoot: resultsRoot(),
        onEvent: (e) => Effect.sync(() => e._tag === "NodeLost" && lost.push(e.node))
      }).pipe(Effect.provide(Cluster.fromFile(lab.clusterFile)))
      const byId = new Map(session.results.results.map((r) => [r.testId.split(".").pop()!, r]))
      expect(byId.get("breaksANode")?.status).toBe("FAIL")
      expect(byId.get("breaksANode")?.summary).toContain("its node went away")
      expect(lost).toEqual([ranOn["breaksANode"]])
      expect(NodeFs.readFileSync(NodePath.join(session.dir, "session.log"), "utf8")).toContain(
        `node ${ranOn["breaksANode"]} stopped answering and is taken out of the run: it did not run \`true\` within 15s`
      )
      // The 1-node test ran on the node still answering; the other 2-node test failed at once, saying why.
      expect(byId.get("afterwards")?.status).toBe("PASS")
      expect(ranOn["afterwards"]).not.toBe(ranOn["breaksANode"])
      expect(byId.get("needsBoth")?.status).toBe("FAIL")
      expect(byId.get("needsBoth")?.summary).toContain(`more than the nodes left after ${ranOn["breaksANode"]} stopped answering`)
      expect(session.results.notRun).toEqual([])
    }), 120_000)

  it.live("a test the runner cannot set up fails with the reason, and the run goes on", () =>
    Effect.gen(function*() {
      // The first test puts a file where the second one's results directory has to go.
      const cases = casesOf({
        a: Test.make(() =>
          Effect.flatMap(TestContext, (ctx) =>
            Effect.sync(() => NodeFs.writeFileSync(NodePath.join(ctx.resultsDir, "..", "spec.RunnerSpec.b"), "in the way")))
        ),
        b: Test.make(() => Effect.void),
        c: Test.make(() => Effect.void)
      })
      const session = yield* runOn(1, { cases, maxParallel: 1, resultsRoot: resultsRoot() })
      expect(session.results.results.map((r) => [r.testId, r.status])).toEqual([
        ["spec.RunnerSpec.a", "PASS"],
        ["spec.RunnerSpec.b", "FAIL"],
        ["spec.RunnerSpec.c", "PASS"]
      ])
      expect(session.results.results[1]!.summary).toMatch(/^the runner could not run the test: .*spec\.RunnerSpec\.b/)
    }))

  it.live("tests declared wrong fail with the reason while the rest of the run goes on", () =>
    Effect.gen(function*() {
      const long = (c: string) => c.repeat(211)
      const cases = casesOf({
        badSpec: Test.make({ cluster: -2 }, () => Effect.void),
        badTimeout: Test.make({ timeout: "3 minuts" as never }, () => Effect.void),
        // "a b" and "ab" escape to the same id: the second would hide the first's result.
        clash: Test.make({ matrix: { s: ["a b", "ab"] } }, () => Effect.void),
        noCases: Test.make({ matrix: { size: [] } }, () => Effect.void),
        typed: Test.make({ cluster: [{ numNodes: 1, nodeType: "large" }] }, () => Effect.void),
        // Data JSON cannot hold as it is (a bigint) is still saved; ids too long for a directory name stay apart.
        fine: Test.make({ matrix: { v: [long("a"), long("b")] } }, () => Effect.succeed({ n: 10n }))
      })
      const session = yield* runOn(1, { cases, resultsRoot: resultsRoot() })
      const byName = (name: string) => session.results.results.filter((r) => r.name === name)
      expect(byName("badSpec")[0]!.summary).toMatch(/cannot run as declared: its cluster is -2: give a whole number/)
      expect(byName("badTimeout")[0]!.summary).toMatch(/its timeout "3 minuts" is not a duration/)
      expect(byName("clash").map((r) => r.status).sort()).toEqual(["FAIL", "PASS"])
      expect(byName("clash").find((r) => r.status === "FAIL")!.summary).toMatch(/same id as \{"s":"a b"\}/)
      expect(byName("noCases")).toEqual([])
      // No localhost size can give a typed node: the advice is a cluster file.
      expect(byName("typed")[0]!.summary).toBe(
        'the test needs 1 node (1 large) but the whole cluster has 1 node; run it on a cluster whose file gives ' +
          'enough nodes "node_type": "large" (--cluster-file)'
      )
      const fine = byName("fine")
      expect(fine.map((r) => r.status)).toEqual(["PASS", "PASS"])
      expect(new Set(fine.map((r) => r.resultsDir)).size).toBe(2)
      expect(JSON.parse(NodeFs.readFileSync(NodePath.join(session.dir, fine[0]!.resultsDir, "data.json"), "utf8"))).toEqual({ n: "10" })
      expect(NodeFs.existsSync(NodePath.join(session.dir, "report.html"))).toBe(true)
    }))

  it.live("--no-teardown keeps a test's nodes, so tests that no longer fit are listed as not run, with why", () =>
    Effect.gen(function*() {
      const reasons: Array<string> = []
      const cases = casesOf({ first: Test.make(() => Effect.void), second: Test.make(() => Effect.void) })
      const session = yield* runOn(1, {
        cases,
        noTeardown: true,
        resultsRoot: resultsRoot(),
        onEvent: (e) => Effect.sync(() => e._tag === "Stopping" && reasons.push(e.reason))
      })
      expect(session.results.results.map((r) => [r.name, r.status])).toEqual([["first", "PASS"]])
      expect(session.results.notRun).toEqual(["spec.RunnerSpec.second"])
      expect(reasons.join()).toMatch(/--no-teardown keeps each test's nodes .* 1 test\(s\) did not fit/)
    }))

  it.live("reports are rewritten while a session runs, so a run killed outright still leaves them", () =>
    Effect.gen(function*() {
      const cases = casesOf({
        // Long enough for the first rewrite (every 5 s at most, after a test ends).
        slow: Test.make(() => Effect.sleep("5500 millis")),
        // Reads the session's report.json as it stands while it runs.
        reader: Test.make(() =>
          Effect.flatMap(TestContext, (ctx) => {
            const report = NodePath.join(ctx.resultsDir, "..", "report.json")
            return Wait.waitUntil(Effect.sync(() => NodeFs.existsSync(report)), { timeout: "10 seconds", backoff: "50 millis" }).pipe(
              Effect.map(() => JSON.parse(NodeFs.readFileSync(report, "utf8")))
            )
          })
        )
      })
      const session = yield* runOn(1, { cases, maxParallel: 1, resultsRoot: resultsRoot() })
      const seen = session.results.results.find((r) => r.name === "reader")!.data as {
        results: Array<{ testId: string; status: string }>
        notRun: Array<string>
        interrupted: boolean
      }
      // Mid-run: what finished, the rest as not run, and the session not (yet) complete.
      expect(seen.results.map((r) => [r.testId, r.status])).toEqual([["spec.RunnerSpec.slow", "PASS"]])
      expect(seen.notRun).toEqual(["spec.RunnerSpec.reader"])
      expect(seen.interrupted).toBe(true)
      // The final reports replace it.
      const final = JSON.parse(NodeFs.readFileSync(NodePath.join(session.dir, "report.json"), "utf8"))
      expect(final.results).toHaveLength(2)
      expect(final.interrupted).toBe(false)
    }), { timeout: 30_000 })

  it.live("a test that ends soon after a rewrite still reaches the reports, though no other test ends after it", () =>
    Effect.gen(function*() {
      const cases = casesOf({
        // Ends at once: too soon after the session started for a rewrite then; one must follow.
        quick: Test.make(() => Effect.void),
        // Reads report.json while it runs, and ends only when the quick test's result is there (or gives up).
        reader: Test.make(() =>
          Effect.flatMap(TestContext, (ctx) => {
            const report = NodePath.join(ctx.resultsDir, "..", "report.json")
            const hasQuick = () => NodeFs.existsSync(report) && NodeFs.readFileSync(report, "utf8").includes("spec.RunnerSpec.quick")
            return Wait.waitUntil(Effect.sync(hasQuick), { timeout: "20 seconds", backoff: "100 millis" }).pipe(
              Effect.map(() => "seen")
            )
          })
        )
      })
      const session = yield* runOn(2, { cases, maxParallel: 2, resultsRoot: resultsRoot() })
      expect(session.results.results.map((r) => [r.name, r.status])).toEqual([["quick", "PASS"], ["reader", "PASS"]])
    }), { timeout: 40_000 })

  it.live("Test.skip ends a test as IGNORE with its reason; a failure keeps the user's frames, not the library's", () =>
    Effect.gen(function*() {
      const cases = casesOf({
        skips: Test.make(() => Effect.zipRight(Effect.logInfo("no widget here"), Test.skip("needs a widget"))),
        fails: Test.make({ cluster: 1 }, () => Effect.flatMap(Cluster.Cluster, (c) => c.all[0]!.account.ssh("exit 7"))),
        // Its error is made in a public module (src/Wait.ts): that frame is the library's too.
        waits: Test.make(() => Wait.waitUntil(Effect.succeed(false), { timeout: "50 millis", backoff: "10 millis" }))
      })
      const session = yield* runOn(1, { cases, resultsRoot: resultsRoot() })
      const [skips, fails, waits] = session.results.results
      expect(waits!.status).toBe("FAIL")
      expect(waits!.failure!.detail).not.toMatch(/node_modules|\/src\/[A-Za-z]+\.ts|src\/internal/)
      expect(skips).toMatchObject({ status: "IGNORE", summary: "skipped: needs a widget" })
      expect(fails!.status).toBe("FAIL")
      expect(fails!.failure!.detail).toContain("Runner.test.ts")
      expect(fails!.failure!.detail).not.toMatch(/node_modules|\/src\/[A-Za-z]+\.ts|src\/internal/)
      const debug = yield* runOn(1, { cases: cases.slice(1, 2), resultsRoot: resultsRoot(), debug: true })
      expect(debug.results.results[0]!.failure!.detail).toMatch(/node_modules|src\/internal/)
    }), { timeout: 40_000 })

  it.live("--deflake turns a pass on retry into FLAKY; --exit-first stops scheduling after a failure", () =>
    Effect.gen(function*() {
      let tries = 0
      const flaky = casesOf({ flaky: Test.make(() => (++tries < 2 ? Effect.fail("first run fails") : Effect.void)) })
      const s1 = yield* runOn(1, { cases: flaky, deflake: 3, resultsRoot: resultsRoot() })
      expect(s1.results.results[0]!.status).toBe("FLAKY")
      expect(s1.results.results[0]!.attempts.map((a) => a.status)).toEqual(["FAIL", "PASS"])

      const serial = casesOf({
        a: Test.make(() => Effect.fail("a fails")),
        b: Test.make(() => Effect.void),
        c: Test.make(() => Effect.void)
      })
      const s2 = yield* runOn(1, { cases: serial, exitFirst: true, maxParallel: 1, resultsRoot: resultsRoot() })
      expect(s2.results.results.map((r) => r.status)).toEqual(["FAIL"])
      expect(s2.results.notRun).toEqual(["spec.RunnerSpec.b", "spec.RunnerSpec.c"])
      expect(s2.results.interrupted).toBe(true)
    }))

  it.live("records for each attempt the nodes it held, from allocation to release (the report's session timeline)", () =>
    Effect.gen(function*() {
      let tries = 0
      const cases = casesOf({
        retried: Test.make(() => (++tries < 2 ? Effect.fail("first run fails") : Effect.void)),
        plain: Test.make(() => Effect.void)
      })
      const { results } = yield* runOn(2, { cases, deflake: 2, maxParallel: 2, resultsRoot: resultsRoot() })
      for (const r of results.results) {
        const allocations = r.allocations ?? []
        expect(allocations).toHaveLength(r.attempts.length === 0 ? 1 : r.attempts.length)
        expect(allocations.at(-1)!.nodes).toEqual(r.nodes)
        // held from before the test started until after it stopped, attempts one after another
        expect(allocations[0]!.allocatedAt).toBeLessThanOrEqual(r.startTime)
        expect(allocations.at(-1)!.releasedAt).toBeGreaterThanOrEqual(r.stopTime)
        allocations.forEach((a, i) => {
          expect(a.nodes).toHaveLength(1)
          expect(a.releasedAt).toBeGreaterThanOrEqual(a.allocatedAt)
          if (i > 0) expect(a.allocatedAt).toBeGreaterThanOrEqual(allocations[i - 1]!.releasedAt)
        })
      }
      expect(results.results.find((r) => r.name === "retried")!.allocations).toHaveLength(2)
    }))

  it.live("interrupting a run tears running tests down and still writes the reports", () =>
    Effect.gen(function*() {
      const root = resultsRoot()
      const started = yield* Effect.makeLatch(false)
      let pid = 0
      const cases = casesOf({
        long: Test.make(() =>
          Effect.gen(function*() {
            const svc = yield* Sleeper.start()
            pid = Number(yield* svc.node(1).account.readFile("sleeper.pid"))
            yield* started.open
            return yield* Effect.never
          })),
        later: Test.make(() => Effect.void)
      })
      const fiber = yield* Effect.fork(runOn(1, { cases, resultsRoot: root }))
      yield* started.await
      yield* Fiber.interrupt(fiber)
      expect(pid).toBeGreaterThan(0)
      expect(isAlive(pid)).toBe(false)
      const sessionDir = NodePath.join(root, NodeFs.readlinkSync(NodePath.join(root, "latest")))
      const report = JSON.parse(NodeFs.readFileSync(NodePath.join(sessionDir, "report.json"), "utf8"))
      expect(report.interrupted).toBe(true)
      expect(report.results.map((r: { status: string }) => r.status)).toEqual(["FAIL"])
      expect(report.notRun).toEqual(["spec.RunnerSpec.later"])
    }))
})

describe("Runner.createSessionDir", () => {
  it.effect("sessions started at once get ids of their own, and `latest` names the newest", () =>
    Effect.gen(function*() {
      const root = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "dt-sessions-"))
      const made = yield* Effect.all(Array.from({ length: 6 }, () => Runner.createSessionDir(root)), { concurrency: "unbounded" })
      expect(new Set(made.map((m) => m.id)).size).toBe(6)
      for (const m of made) expect(NodeFs.statSync(m.dir).isDirectory()).toBe(true)
      const next = yield* Runner.createSessionDir(root)
      expect(NodeFs.readlinkSync(NodePath.join(root, "latest"))).toBe(next.id)
      NodeFs.rmSync(root, { recursive: true, force: true })
    }))

  it.effect("a results root that cannot be made fails as ResultsDirError, naming it, the errno and the flag to change", () =>
    Effect.gen(function*() {
      const base = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "dt-sessions-"))
      NodeFs.writeFileSync(NodePath.join(base, "file"), "x")
      const error = yield* Effect.flip(Runner.createSessionDir(NodePath.join(base, "file", "results")))
      expect(error._tag).toBe("ResultsDirError")
      expect(error.message).toContain(`cannot create the results directory ${NodePath.join(base, "file", "results")}`)
      expect(error.message).toMatch(/ENOTDIR|EEXIST/)
      expect(error.message).toContain("--results-root")
      expect(error.cause).toMatchObject({ _tag: "SystemError", module: "FileSystem" })
      NodeFs.rmSync(base, { recursive: true, force: true })
    }))
})
