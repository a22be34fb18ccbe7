import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import * as Cluster from "../src/Cluster.js"
import type { ClusterNode } from "../src/Cluster.js"
import * as Service from "../src/Service.js"

// A real service on the localhost cluster: a shell loop that writes a log, started through the node scope.
const events: Array<string> = []
const Ticker = Service.make({
  name: "ticker",
  config: { failOn: 0 },
  numNodes: 2,
  logs: {
    tick: { path: "ticker/tick.log", collectDefault: true },
    debug: { path: "ticker/debug.log" }
  },
  startNode: (node, svc) =>
    Effect.gen(function*() {
      events.push(`start ${svc.idx(node)}`)
      if (svc.config.failOn === svc.idx(node)) return yield* Effect.fail(new Error(`node ${svc.idx(node)} refuses`))
      yield* node.account.mkdirs("ticker")
      yield* node.account.createFile("ticker/debug.log", "debug\n")
      const p = yield* node.account.startProcess("while true; do echo tick >> ticker/tick.log; sleep 0.05; done")
      yield* node.account.createFile("ticker/pid", String(p.pid))
      const monitor = yield* node.account.monitorLog("ticker/tick.log")
      yield* monitor.waitUntil("tick", { timeout: "5 seconds" })
    }),
  stopNode: (node, svc) => Effect.sync(() => events.push(`stop ${svc.idx(node)}`)),
  cleanNode: (node, svc) =>
    Effect.zipRight(Effect.sync(() => events.push(`clean ${svc.idx(node)}`)), node.account.remove("ticker", { force: true }))
})

const pidOf = (node: ClusterNode) => Effect.map(node.account.readFile("ticker/pid"), Number)

const withCluster = <A, E>(n: number, f: (cluster: Cluster.Cluster) => Effect.Effect<A, E, Cluster.Cluster>) =>
  Effect.flatMap(Cluster.Cluster, f).pipe(Effect.provide(Cluster.localhost({ numNodes: n })))

describe("Service", () => {
  it.live("starts nodes in order and tears down in reverse, killing what startNode started", () =>
    withCluster(3, (cluster) =>
      Effect.gen(function*() {
        events.length = 0
        const pids: Array<number> = []
        let nodes: ReadonlyArray<ClusterNode> = []
        yield* Effect.scoped(Effect.gen(function*() {
          const svc = yield* Ticker.start()
          nodes = svc.nodes
          expect(svc.nodes).toHaveLength(2)
          expect(svc.id).toBe("ticker-1")
          expect((yield* cluster.available).length).toBe(1)
          for (const n of svc.nodes) pids.push(yield* pidOf(n))
          for (const [i, n] of svc.nodes.entries()) expect(yield* n.account.alive(pids[i]!)).toBe(true)
        }))
        expect(events).toEqual(["clean 1", "start 1", "clean 2", "start 2", "stop 2", "stop 1", "clean 1", "clean 2"])
        for (const [i, n] of nodes.entries()) expect(yield* n.account.alive(pids[i]!)).toBe(false)
        expect((yield* cluster.available).length).toBe(3)
      })))

  it.live("a failure starting node k stops and cleans nodes 1..k and names the node", () =>
    withCluster(3, (cluster) =>
      Effect.gen(function*() {
        events.length = 0
        const exit = yield* Effect.exit(Effect.scoped(Ticker.start({ numNodes: 3, config: { failOn: 2 } })))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
        expect(error?._tag).toBe("ServiceError")
        expect(error?.message).toMatch(/ticker-\d+ on worker\d: start failed: node 2 refuses/)
        const cause = error?._tag === "ServiceError" ? error.cause : undefined
        expect(cause).toBeInstanceOf(Error)
        expect((cause as Error).message).toBe("node 2 refuses")
        expect(events).toEqual(["clean 1", "start 1", "clean 2", "start 2", "stop 2", "stop 1", "clean 1", "clean 2"])
        expect((yield* cluster.available).length).toBe(3)
      })))

  it.live("a required config field left out fails the start at once, naming it, and takes no node", () =>
    withCluster(1, (cluster) =>
      Effect.gen(function*() {
        let started = 0
        const Client = Service.make<{ readonly server: string; readonly port: number; readonly retries: number }>({
          name: "client",
          config: { server: Service.required("the server's address"), port: Service.required(), retries: 3 },
          startNode: () => Effect.sync(() => started++)
        })
        const error = yield* Effect.flip(Effect.scoped(Client.start({ config: { retries: 5 } })))
        expect(error.message).toBe(
          "client: config failed: config.server is required (the server's address); config.port is required: " +
            "start it with { config: { server: …, port: … } }"
        )
        expect(started).toBe(0)
        expect((yield* cluster.available).length).toBe(1)
        const ok = yield* Effect.scoped(Effect.map(Client.start({ config: { server: "10.0.0.1", port: 80 } }), (c) => c.config))
        expect(ok).toEqual({ server: "10.0.0.1", port: 80, retries: 3 })
        expect(started).toBe(1)
      })))

  it.live("a service started on another's nodes shares them: no nodes taken, none given back early", () =>
    withCluster(3, (cluster) =>
      Effect.gen(function*() {
        const Agent = Service.make({
          name: "agent",
          startNode: (node) => Effect.asVoid(node.account.startProcess(["sleep", "600"])),
          cleanNode: (node) => node.account.remove("agent", { force: true })
        })
        yield* Effect.scoped(Effect.gen(function*() {
          const ticker = yield* Ticker.start()
          yield* Effect.scoped(Effect.gen(function*() {
            const agent = yield* Agent.start({ nodes: ticker.nodes })
            expect(agent.nodes.map((n) => n.name)).toEqual(ticker.nodes.map((n) => n.name))
            expect((yield* cluster.available).length).toBe(1)
          }))
          // The agent stopped; the ticker's nodes are still its own, and it still runs on them.
          expect((yield* cluster.available).length).toBe(1)
          for (const n of ticker.nodes) expect(yield* n.account.alive(yield* pidOf(n))).toBe(true)
          const none = yield* Effect.flip(Agent.start({ nodes: [] }))
          expect(none.message).toContain("was given no nodes")
          const both = yield* Effect.flip(Agent.start({ nodes: ticker.nodes, numNodes: 1 }))
          expect(both.message).toContain("give the nodes, or how many to take, not both")
        }))
        expect((yield* cluster.available).length).toBe(3)
      })))

  it.live("interruption tears the service down and kills its processes", () =>
    withCluster(2, () =>
      Effect.gen(function*() {
        const started = yield* Effect.makeLatch(false)
        let nodes: ReadonlyArray<ClusterNode> = []
        const pids: Array<number> = []
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const svc = yield* Ticker.start()
          nodes = svc.nodes
          for (const n of svc.nodes) pids.push(yield* pidOf(n))
          yield* started.open
          yield* Effect.never
        })))
        yield* started.await
        yield* Fiber.interrupt(fiber)
        for (const [i, n] of nodes.entries()) expect(yield* n.account.alive(pids[i]!)).toBe(false)
        for (const n of nodes) expect(yield* n.account.exists("ticker")).toBe(false)
      })))

  it.live("collects default logs after success, all logs after failure, notes missing ones", () =>
    withCluster(2, () =>
      Effect.gen(function*() {
        const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "svc-logs-"))
        const registry = Service.makeRegistry(dir)
        yield* Effect.scoped(Ticker.start()).pipe(Effect.provideService(Service.ServiceRegistry, registry))
        const nodeDirs = NodeFs.readdirSync(NodePath.join(dir, "ticker-1"))
        expect(nodeDirs).toHaveLength(2)
        for (const n of nodeDirs) {
          expect(NodeFs.readdirSync(NodePath.join(dir, "ticker-1", n))).toEqual(["tick.log"])
          expect(NodeFs.readFileSync(NodePath.join(dir, "ticker-1", n, "tick.log"), "utf8")).toContain("tick")
        }
        // A failing test collects every log.
        yield* Effect.scoped(Effect.zipRight(Ticker.start(), Effect.fail("boom"))).pipe(
          Effect.provideService(Service.ServiceRegistry, registry),
          Effect.exit
        )
        for (const n of NodeFs.readdirSync(NodePath.join(dir, "ticker-2"))) {
          expect(NodeFs.readdirSync(NodePath.join(dir, "ticker-2", n)).sort()).toEqual(["debug.log", "tick.log"])
        }
        // markNoCollect on a passing test; a log that was never written is noted, not fatal.
        const Quiet = Service.make({
          name: "quiet",
          logs: { missing: { path: "nowhere/x.log", collectDefault: true } },
          startNode: () => Effect.void
        })
        yield* Effect.scoped(Quiet.start()).pipe(Effect.provideService(Service.ServiceRegistry, registry))
        const quiet = registry.records.find((r) => r.id === "quiet-1")!
        expect(quiet.notes.join()).toMatch(/log missing \(nowhere\/x.log\) not collected/)
        yield* Effect.scoped(Effect.tap(Ticker.start(), (svc) => Service.markNoCollect(svc))).pipe(
          Effect.provideService(Service.ServiceRegistry, registry)
        )
        expect(NodeFs.existsSync(NodePath.join(dir, "ticker-3"))).toBe(false)
        // Two logs with one file name both arrive, each under its own name.
        const Twins = Service.make({
          name: "twins",
          logs: { app: { path: "app/out.log", collectDefault: true }, db: { path: "db/out.log", collectDefault: true } },
          startNode: (node) =>
            Effect.all([
              node.account.mkdirs("app"),
              node.account.mkdirs("db"),
              node.account.createFile("app/out.log", "from app"),
              node.account.createFile("db/out.log", "from db")
            ])
        })
        yield* Effect.scoped(Twins.start()).pipe(Effect.provideService(Service.ServiceRegistry, registry))
        const [twinsNode] = NodeFs.readdirSync(NodePath.join(dir, "twins-1"))
        const twinsDir = NodePath.join(dir, "twins-1", twinsNode!)
        expect(NodeFs.readdirSync(twinsDir).sort()).toEqual(["app.out.log", "db.out.log"])
        expect(NodeFs.readFileSync(NodePath.join(twinsDir, "db.out.log"), "utf8")).toBe("from db")
        // A test that fails only in teardown (a stop that fails) collects every log too: they explain it.
        const Stubborn = Service.make({
          name: "stubborn",
          logs: { out: { path: "stubborn.log", collectDefault: false } },
          startNode: (node) => node.account.createFile("stubborn.log", "why the stop failed"),
          stopNode: () => Effect.fail(new Error("will not stop"))
        })
        yield* Effect.scoped(Stubborn.start()).pipe(Effect.provideService(Service.ServiceRegistry, registry))
        expect(registry.records.find((r) => r.id === "stubborn-1")!.problems.join()).toMatch(/will not stop/)
        const [stubbornNode] = NodeFs.readdirSync(NodePath.join(dir, "stubborn-1"))
        expect(NodeFs.readFileSync(NodePath.join(dir, "stubborn-1", stubbornNode!, "stubborn.log"), "utf8")).toBe("why the stop failed")
        NodeFs.rmSync(dir, { recursive: true, force: true })
      })))

  it.live("a daemon that dies during start fails it at once; the message names the cause and the collected log", () =>
    withCluster(1, () =>
      Effect.gen(function*() {
        const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "svc-badflag-"))
        const registry = Service.makeRegistry(dir)
        const usage = Array.from({ length: 40 }, (_, i) => `echo '  --option-${i}   what option ${i} does'`).join("; ")
        const BadFlag = Service.make({
          name: "badflag",
          logs: { server: { path: "badflag/server.log" } },
          startNode: (node) =>
            Effect.gen(function*() {
              yield* node.account.mkdirs("badflag")
              const monitor = yield* node.account.monitorLog("badflag/server.log")
              const pid = yield* node.account.spawnDaemon(`echo 'flag provided but not defined: -bogus'; ${usage}; exit 2`, {
                logFile: "badflag/server.log"
              })
              yield* monitor.waitUntil("serving", { timeout: "60 seconds", whileAlive: pid })
            })
        })
        const started = Date.now()
        const exit = yield* Effect.exit(Effect.scoped(BadFlag.start()).pipe(Effect.provideService(Service.ServiceRegistry, registry)))
        expect(Date.now() - started).toBeLessThan(20_000)
        const error = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
        if (error?._tag !== "ServiceError") return expect.unreachable(String(error))
        const firstLine = error.message.split("\n")[0]!
        expect(firstLine).toContain("exited with status 2")
        expect(firstLine).toContain("flag provided but not defined: -bogus")
        // What the step failed with stays inspectable, as the error's cause: here the log wait's own error.
        expect(error.cause).toBeInstanceOf(Error)
        expect((error.cause as { readonly _tag?: string })._tag).toMatch(/^[A-Z]\w+$/)
        expect((error.cause as Error).message).toContain("flag provided but not defined: -bogus")
        // It points at the copy under the results, which exists, not at the node's scratch directory.
        const [node] = NodeFs.readdirSync(NodePath.join(dir, "badflag-1"))
        const collected = NodePath.join(dir, "badflag-1", node!, "server.log")
        expect(error.message).toContain(collected)
        expect(error.message).not.toMatch(/ducktape-localhost-[^ ]*server\.log/)
        expect(NodeFs.readFileSync(collected, "utf8")).toContain("flag provided but not defined")
        NodeFs.rmSync(dir, { recursive: true, force: true })
      })))

  it.live("a stop that hangs is cut at its limit and what the start left running is killed; the error says so", () =>
    withCluster(2, () =>
      Effect.gen(function*() {
        const marker = `hung-stop-${process.pid}-${Date.now()}`
        const Hung = Service.make({
          name: "hung",
          numNodes: 2,
          stopTimeout: "1 second",
          // Two daemons per node (one of them starts a child of its own): they outlive the node's scope.
          startNode: (node) =>
            Effect.all([
              node.account.spawnDaemon(`exec sleep 3600 # ${marker}`),
              node.account.spawnDaemon(`sleep 3601 # ${marker} & exec sleep 3602 # ${marker}`)
            ]),
          stopNode: () => Effect.never
        })
        const left = (node: ClusterNode) => Effect.map(node.account.pids(marker), (p) => p.length)
        let nodes: ReadonlyArray<ClusterNode> = []
        const registry = Service.makeRegistry(NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "svc-hung-")))
        yield* Effect.scoped(Effect.gen(function*() {
          const svc = yield* Hung.start()
          nodes = svc.nodes
          // localhost nodes share one process table: both nodes' daemons are seen from either.
          expect(yield* left(nodes[0]!)).toBe(6)
        })).pipe(Effect.provideService(Service.ServiceRegistry, registry))
        const leftover = yield* left(nodes[0]!)
        console.log(`hung stop: ${leftover} processes left running after teardown (was 6)`)
        expect(leftover).toBe(0)
        const problems = registry.records[0]!.problems
        expect(problems).toHaveLength(2)
        for (const p of problems) expect(p).toMatch(/did not stop within 1s; killed the 3 processes it had left running/)
        NodeFs.rmSync(registry.logsDir, { recursive: true, force: true })
      })))

  it.live("a step that cannot be interrupted does not hold the teardown past its time limit", () =>
    withCluster(1, () =>
      Effect.gen(function*() {
        const Slow = Service.make({
          name: "slow",
          stopTimeout: "1 second",
          // A release that takes 30 s and cannot be interrupted (a stop script that blocks, say).
          startNode: () => Effect.acquireRelease(Effect.void, () => Effect.sleep("30 seconds"))
        })
        const started = Date.now()
        yield* Effect.scoped(Slow.start())
        expect(Date.now() - started).toBeLessThan(15_000)
      })), { timeout: 40_000 })

  it.live("restartNode bounces one node; the layer form tears down with its scope", () =>
    withCluster(2, () =>
      Effect.gen(function*() {
        yield* Effect.scoped(Effect.gen(function*() {
          const svc = yield* Effect.flatMap(Scope.Scope, (scope) => Layer.buildWithScope(Ticker.layer({ numNodes: 1 }), scope)).pipe(
            Effect.map((ctx) => ctx.unsafeMap.values().next().value as Service.RunningService<{}>)
          )
          const node = svc.node(1)
          const before = yield* pidOf(node)
          yield* svc.restartNode(node)
          const after = yield* pidOf(node)
          expect(after).not.toBe(before)
          expect(yield* node.account.alive(before)).toBe(false)
          expect(yield* node.account.alive(after)).toBe(true)
        }))
      })))

  it.live("a background service surfaces worker errors from wait, and interruption stops remote work", () =>
    withCluster(2, () =>
      Effect.gen(function*() {
        const Workers = Service.background({
          name: "workers",
          config: { fail: false },
          numNodes: 2,
          worker: (node, svc) =>
            svc.config.fail && svc.idx(node) === 2
              ? Effect.fail(new Error("worker 2 crashed"))
              : node.account.ssh("sleep 0.2")
        })
        yield* Effect.scoped(Effect.flatMap(Workers.start({ config: { fail: false } }), (s) => s.wait("10 seconds")))
        const failed = yield* Effect.scoped(Effect.flatMap(Workers.start({ config: { fail: true } }), (s) => s.wait("10 seconds"))).pipe(Effect.flip)
        expect(failed.message).toMatch(/worker 2 crashed/)
        const Slow = Service.background({ name: "slow", worker: (node) => node.account.ssh("echo $$ > slow.pid; exec sleep 30") })
        let pid = 0
        let node: ClusterNode | undefined
        const timedOut = yield* Effect.scoped(Effect.gen(function*() {
          const s = yield* Slow.start()
          node = s.node(1)
          yield* Effect.sleep("300 millis")
          pid = Number(yield* s.node(1).account.readFile("slow.pid"))
          yield* s.wait("200 millis")
        })).pipe(Effect.flip)
        expect(timedOut.message).toMatch(/still running/)
        expect(yield* node!.account.alive(pid)).toBe(false)
      })))

  it.live("--no-teardown leaves services running but still collects their logs", () =>
    withCluster(1, () =>
      Effect.gen(function*() {
        const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "svc-keep-"))
        const registry = Service.makeRegistry(dir, { noTeardown: true })
        events.length = 0
        let pid = 0
        let node: ClusterNode | undefined
        yield* Effect.scoped(Effect.gen(function*() {
          const svc = yield* Ticker.start({ numNodes: 1 })
          node = svc.node(1)
          pid = yield* pidOf(node)
        })).pipe(Effect.provideService(Service.ServiceRegistry, registry))
        expect(events).toEqual(["clean 1", "start 1"])
        expect(yield* node!.account.alive(pid)).toBe(true)
        expect(NodeFs.readdirSync(NodePath.join(dir, "ticker-1", "worker1"))).toEqual(["tick.log"])
        expect(registry.records[0]!.notes.join()).toMatch(/left running on worker1 \(--no-teardown\)/)
        yield* node!.account.killProcessGroup(pid)
        NodeFs.rmSync(dir, { recursive: true, force: true })
      })))
})

// Last: services started without a registry number their ids across the whole file, and the tests above expect theirs.
describe("Service identity", () => {
  it.live("two services that share a name are two services: each layer provides its own", () =>
    Effect.gen(function*() {
      const named = (config: { readonly flavour: string }) => Service.make({ name: "twin", config, startNode: () => Effect.void })
      const first = named({ flavour: "first" })
      const second = named({ flavour: "second" })
      const both = Layer.merge(first.layer({ numNodes: 1 }), second.layer({ numNodes: 1 }))
      const seen = yield* Effect.all([first.tag, second.tag]).pipe(Effect.provide(both), Effect.provide(Cluster.localhost({ numNodes: 2 })))
      expect(seen.map((s) => s.config.flavour)).toEqual(["first", "second"])
      expect(new Set(seen.map((s) => s.nodes[0]!.name)).size).toBe(2)
    }))
})
