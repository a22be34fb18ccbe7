import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import * as Cluster from "../src/Cluster.js"
import type { ClusterNode } from "../src/Cluster.js"
import * as Service from "../src/Service.js"
import * as Test from "../src/Test.js"
import { TestContext } from "../src/TestContext.js"
import * as Wait from "../src/Wait.js"
import { run, systemTest, SystemTestFailed } from "../src/vitest.js"

const resultsRoot = NodePath.join(NodeOs.tmpdir(), `ducktape-vitest-entry-${process.pid}`)
afterAll(() => NodeFs.rmSync(resultsRoot, { recursive: true, force: true }))

// A real process per node, killed when the service stops; the pids let the tests check that it is gone.
const started: Array<{ node: ClusterNode; pid: number }> = []
const Sleeper = Service.make({
  name: "sleeper",
  logs: { out: { path: "sleeper.log", collectDefault: true } },
  startNode: (node) =>
    Effect.gen(function*() {
      yield* node.account.createFile("sleeper.log", "sleeping\n")
      const p = yield* node.account.startProcess("sleep 600")
      started.push({ node, pid: p.pid })
    })
})

/** Whether a pid is a live process (a zombie waiting to be reaped is not). */
const running = ({ node, pid }: { node: ClusterNode; pid: number }) =>
  Effect.map(node.account.exec(["ps", "-o", "stat=", "-p", String(pid)]), (r) => r.stdout.trim() !== "" && !r.stdout.trim().startsWith("Z"))

const onCluster = <A, E>(numNodes: number, effect: Effect.Effect<A, E, Cluster.Cluster>) =>
  Effect.provide(effect, Cluster.localhost({ numNodes }))

describe("vitest entry point", () => {
  it.live("run: a body gets its context and services; its data and logs land in its results dir", () =>
    onCluster(2, Effect.gen(function*() {
      started.length = 0
      const { results: [result], sessionDir } = yield* run(() =>
        Effect.gen(function*() {
          const context = yield* TestContext
          const sleeper = yield* Sleeper.start({ numNodes: 2 })
          return { nodes: sleeper.nodes.length, clusterSize: context.cluster.size, testId: context.testId }
        }), { resultsRoot, name: "passes" })
      expect(result?.status).toBe("PASS")
      expect(result?.data).toEqual({ nodes: 2, clusterSize: 2, testId: "test.vitest-entry.test.passes" })
      const dir = NodePath.join(sessionDir, result!.resultsDir)
      expect(JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "data.json"), "utf8"))).toEqual(result?.data)
      expect(NodeFs.existsSync(NodePath.join(dir, "test_log.debug"))).toBe(true)
      expect(NodeFs.readdirSync(NodePath.join(dir, "sleeper-1"))).toHaveLength(2)
      expect(started).toHaveLength(2)
      for (const p of started) expect(yield* running(p)).toBe(false)
    })))

  it.live("run: a failed case fails with its message and results dir, after its services were torn down", () =>
    onCluster(1, Effect.gen(function*() {
      started.length = 0
      const exit = yield* Effect.exit(run(() =>
        Effect.gen(function*() {
          yield* Sleeper.start()
          yield* Test.check(false, "the answer was not 42")
        }), { resultsRoot, name: "fails" }))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      expect(error).toBeInstanceOf(SystemTestFailed)
      expect(error?.message).toContain("test.vitest-entry.test.fails: the answer was not 42")
      const dir = (error as SystemTestFailed).failures[0]!.resultsDir
      expect(NodeFs.readFileSync(NodePath.join(dir, "test_log.debug"), "utf8")).toContain("stopping sleeper-1")
      expect(NodeFs.readdirSync(NodePath.join(dir, "sleeper-1", "worker1"))).toEqual(["sleeper.log"])
      expect(yield* running(started[0]!)).toBe(false)
    })))

  it.live("run: a suite runs every case of every test; ignored ones are IGNORE", () =>
    onCluster(1, Effect.gen(function*() {
      const suite = Test.suite("Arith", {
        doubles: Test.make({ matrix: { x: [1, 2] } }, ({ x }) => Effect.succeed(x * 2)),
        skipped: Test.make({ ignore: true }, () => Effect.die("must not run"))
      })
      const { results } = yield* run(suite, { resultsRoot })
      expect(results.map((r) => [r.testId, r.status, r.data ?? null]).sort()).toEqual([
        ["test.vitest-entry.test.Arith.doubles.x=1", "PASS", 2],
        ["test.vitest-entry.test.Arith.doubles.x=2", "PASS", 4],
        ["test.vitest-entry.test.Arith.skipped", "IGNORE", null]
      ])
    })))

  it.live("run: interrupting it (as a vitest abort does) stops the services the test started", () =>
    onCluster(1, Effect.gen(function*() {
      started.length = 0
      const fiber = yield* Effect.fork(run(() => Effect.zipRight(Sleeper.start(), Effect.never), { resultsRoot, name: "aborted" }))
      yield* Wait.waitUntil(Effect.sync(() => started.length > 0), { timeout: "10 seconds" })
      expect(yield* running(started[0]!)).toBe(true)
      yield* Fiber.interrupt(fiber)
      expect(yield* running(started[0]!)).toBe(false)
    })))
})

// systemTest declares the vitest test itself, on a cluster of its own; a failure here fails this file.
systemTest("systemTest: a body runs with its own cluster and the TestContext", { cluster: Cluster.localhost({ numNodes: 2 }), resultsRoot }, () =>
  Effect.gen(function*() {
    const context = yield* TestContext
    yield* Test.checkEqual(context.cluster.size, 2, "nodes given to the test")
    yield* Test.checkEqual(context.name, "systemTest: a body runs with its own cluster and the TestContext", "test name")
  }))
