/**
 * Runner overhead: trivial tests through the whole runner (scheduling, sub-clusters, results directories, logs,
 * reports) on the localhost cluster; scheduling 10,000 tests over 1,000 simulated nodes; memory with 64 tests in
 * flight. Prints one JSON object per measurement.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeV8 from "node:v8"
import * as NodeVm from "node:vm"
import { Effect, Layer, Option, Stream } from "effect"
import * as Cluster from "../src/Cluster.js"
import { PendingQueue } from "../src/internal/runner/scheduler.js"
import * as RemoteAccount from "../src/RemoteAccount.js"
import * as Runner from "../src/Runner.js"
import * as Test from "../src/Test.js"

// A full collection on demand without a node flag: bench runs with plain `npx tsx`.
NodeV8.setFlagsFromString("--expose-gc")
const collectGarbage = NodeVm.runInNewContext("gc") as () => void

const where = (name: string) => ({ module: "bench", file: "/bench/runner.ts", suite: "Bench", name })
const trivial = (n: number, body: () => Effect.Effect<unknown, unknown, Test.TestServices> = () => Effect.void, cluster = 1) =>
  Test.expand(Test.make({ cluster, matrix: { i: Array.from({ length: n }, (_, k) => k) } }, body), where("noop"), {})

const resultsRoot = () => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "bench-runner-"))

/** An account that answers every command at once without running anything: for scheduling alone. */
const simulatedAccount = (i: number): RemoteAccount.RemoteAccount =>
  RemoteAccount.make({
    identity: { hostname: `sim${i}`, sshHostname: `sim${i}`, user: "sim", port: 22, externallyRoutableIp: `10.0.${i >> 8}.${i & 255}`, os: "linux", workdir: "/sim" },
    exec: () => Effect.succeed({ stdout: Stream.make(new TextEncoder().encode("1\n")), stderr: Stream.empty, exitCode: Effect.succeed(0) }),
    upload: () => Effect.void,
    download: () => Effect.void,
    readFile: () => Effect.succeed(new Uint8Array()),
    writeFile: () => Effect.void,
    stat: () => Effect.succeed(Option.none()),
    readDir: () => Effect.succeed([]),
    mkdir: () => Effect.void,
    transferConcurrency: 1
  })

const timeRun = (cases: ReadonlyArray<Test.TestCase>, maxParallel: number, cluster: Layer.Layer<Cluster.Cluster, unknown>) =>
  Effect.gen(function*() {
    const root = resultsRoot()
    const start = performance.now()
    const session = yield* Runner.run({ cases, maxParallel, resultsRoot: root }).pipe(Effect.provide(cluster))
    const ms = performance.now() - start
    NodeFs.rmSync(root, { recursive: true, force: true })
    return { ms, failed: session.results.results.filter((r) => r.status !== "PASS").length }
  })

const main = Effect.gen(function*() {
  // Warm up the module graph and the JIT.
  yield* timeRun(trivial(20), 8, Cluster.localhost({ numNodes: 8 }))

  const overhead = yield* timeRun(trivial(200), 8, Cluster.localhost({ numNodes: 8 }))
  console.log(JSON.stringify({ bench: "runner overhead, 200 no-op tests, localhost:8, --max-parallel 8", totalMs: Math.round(overhead.ms), perTestMs: +(overhead.ms / 200).toFixed(2), failed: overhead.failed, target: "<= 10 ms per test; ducktape ~150 ms" }))

  // Scheduling alone: the runner's queue and the cluster's allocation, with tests that finish in start order.
  const nodes = Array.from({ length: 1000 }, (_, i) => ({ name: `sim${i}`, index: i, account: simulatedAccount(i), nodeType: i % 10 === 0 ? "large" : undefined }))
  const cluster = yield* Cluster.make(nodes)
  const pool = cluster[Cluster.PoolTypeId]
  const specs: ReadonlyArray<Cluster.ClusterSpec> = [1, 3, 5, 20, [{ numNodes: 2, nodeType: "large" }, { numNodes: 3 }]]
  // The runner's own scheduling step (PendingQueue.takeFirst over the pool core's tryTake, giveBack when a test ends),
  // with tests that finish in start order.
  const schedule = Effect.sync(() => {
    const queue = new PendingQueue<number>((i) => specs[i % specs.length]!)
    for (let i = 0; i < 10_000; i++) queue.push(i)
    const started = performance.now()
    const running: Array<ReadonlyArray<Cluster.ClusterNode>> = []
    let scheduled = 0
    while (queue.size > 0) {
      for (;;) {
        const next = queue.takeFirst(pool.tryTake)
        if (next === undefined) break
        running.push(next.taken)
        scheduled++
      }
      pool.giveBack(running.shift()!)
    }
    for (const nodes of running) pool.giveBack(nodes)
    return { scheduled, ms: Math.round(performance.now() - started) }
  })
  const cold = yield* schedule
  const warm = yield* schedule
  console.log(JSON.stringify({ bench: "scheduling 10,000 tests (1, 3, 5, 20 nodes and a typed 2+3) over 1,000 simulated nodes", scheduled: warm.scheduled, coldMs: cold.ms, warmMs: warm.ms, target: "< 1000 ms" }))

  // Memory: the JS heap after a full collection, before and while 64 tests sleep in flight (sampled at the moment
  // all 64 are running, collected first so garbage of earlier phases does not count). RSS is shown for scale.
  const heapNow = () => {
    collectGarbage()
    return process.memoryUsage()
  }
  const before = heapNow()
  let during = before
  const sampler = setTimeout(() => (during = heapNow()), 1500)
  yield* timeRun(trivial(64, () => Effect.sleep("2 seconds"), 1), 64, Cluster.localhost({ numNodes: 64 }))
  clearTimeout(sampler)
  console.log(JSON.stringify({ bench: "memory, 64 tests in flight (localhost:64)", heapBeforeMiB: +(before.heapUsed / 2 ** 20).toFixed(1), heapInFlightMiB: +(during.heapUsed / 2 ** 20).toFixed(1), perTestKiB: Math.round((during.heapUsed - before.heapUsed) / 64 / 1024), rssMiB: +(during.rss / 2 ** 20).toFixed(1) }))
})

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
