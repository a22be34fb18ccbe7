/**
 * Docker nodes against lab nodes, measured side by side in one run on a private dockerd this bench starts and stops
 * (test/support/dockerd.ts; its data root, with the cached node image, is /var/tmp/ducktape-docker-test/bench):
 *
 * 1. first-run image build: the default image built from nothing (mmdebstrap + import + build), once, only with
 *    `--build` (it removes the cached image first; minutes on a slow mirror);
 * 2. bring-up: 8 docker nodes from the cached image, ready (every sshd answering, accounts connected) vs an 8-node
 *    lab up and connected; alternated, `rounds` times each;
 * 3. command latency: `account.ssh("true")` on a docker node vs on a lab node, sequential, alternated in rounds.
 *
 * Prints one JSON line per measurement, then the ratios. Run: `npx tsx bench/docker.ts [--build]`.
 */
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Context, Effect, Layer } from "effect"
import * as Cluster from "../src/Cluster.js"
import * as Docker from "../src/Docker.js"
import * as Lab from "../src/Lab.js"
import type { RemoteAccount } from "../src/RemoteAccount.js"
import * as Dockerd from "../test/support/dockerd.js"

const rounds = 3
const nodes = 8
const latencyRounds = 5
const latencyPerRound = 50

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const a = yield* effect
    return [performance.now() - t0, a] as const
  })

const report = (what: string, ms: number, extra: Record<string, unknown> = {}) =>
  Effect.sync(() => process.stdout.write(JSON.stringify({ what, ms: Math.round(ms * 10) / 10, ...extra }) + "\n"))

const latency = (account: RemoteAccount) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    for (let i = 0; i < latencyPerRound; i++) yield* account.ssh("true")
    return (performance.now() - t0) / latencyPerRound
  })

const program = Effect.scoped(Effect.gen(function*() {
  const daemon = yield* Dockerd.start({ name: "bench" })
  const endpoint = daemon.host
  if (process.argv.includes("--build")) {
    const tag = yield* Docker.ensureImage({ endpoint })
    ChildProcess.spawnSync("/usr/bin/docker", ["-H", endpoint, "rmi", "-f", tag, tag.replace("ducktape-node:", "ducktape-node-rootfs:")])
    const [ms] = yield* timed(Docker.ensureImage({ endpoint }))
    yield* report("first-run image build (mmdebstrap + import + build)", ms)
  } else {
    yield* Docker.ensureImage({ endpoint })
  }

  const labRoot = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "dt-bench-docker-"))
  const up: { docker: Array<number>; lab: Array<number> } = { docker: [], lab: [] }
  const dockerUp = Effect.scoped(Effect.gen(function*() {
    const [ms] = yield* timed(Effect.flatMap(Docker.scoped({ nodes, endpoints: [endpoint] }), Docker.toCluster))
    return ms
  }))
  const labUp = Effect.scoped(Effect.gen(function*() {
    const [ms] = yield* timed(Effect.gen(function*() {
      const lab = yield* Lab.scoped({ nodes, name: `bd${process.pid.toString(36)}`.slice(0, 8), dir: NodePath.join(labRoot, "lab") })
      return yield* labCluster(lab.clusterFile)
    }))
    return ms
  }))
  for (let r = 0; r < rounds; r++) {
    for (const which of r % 2 === 0 ? (["docker", "lab"] as const) : (["lab", "docker"] as const)) {
      const ms = yield* (which === "docker" ? dockerUp : labUp)
      up[which].push(ms)
      yield* report(`${nodes} ${which} nodes up and connected`, ms, { round: r })
    }
  }

  // Latency: one docker node and one lab node, both up at once, alternated.
  const [dockerCluster, lab] = yield* Effect.all([
    Effect.flatMap(Docker.scoped({ nodes: 1, endpoints: [endpoint] }), Docker.toCluster),
    Lab.scoped({ nodes: 1, name: `bl${process.pid.toString(36)}`.slice(0, 8), dir: NodePath.join(labRoot, "lab2") })
  ])
  const labNodes = yield* labCluster(lab.clusterFile)
  const dockerAccount = dockerCluster.all[0]!.account
  const labAccount = labNodes.all[0]!.account
  yield* latency(dockerAccount)
  yield* latency(labAccount)
  const lat: { docker: Array<number>; lab: Array<number> } = { docker: [], lab: [] }
  for (let r = 0; r < latencyRounds; r++) {
    for (const which of r % 2 === 0 ? (["docker", "lab"] as const) : (["lab", "docker"] as const)) {
      const ms = yield* latency(which === "docker" ? dockerAccount : labAccount)
      lat[which].push(ms)
      yield* report(`ssh("true") on a ${which} node, per command`, ms, { round: r })
    }
  }
  NodeFs.rmSync(labRoot, { recursive: true, force: true })
  yield* Effect.sync(() => {
    process.stdout.write(`\n${nodes} nodes up: docker ${median(up.docker).toFixed(0)} ms, lab ${median(up.lab).toFixed(0)} ms ` +
      `(docker/lab ${(median(up.docker) / median(up.lab)).toFixed(2)}x, medians of ${rounds})\n`)
    process.stdout.write(`command latency: docker ${median(lat.docker).toFixed(2)} ms, lab ${median(lat.lab).toFixed(2)} ms ` +
      `(docker/lab ${(median(lat.docker) / median(lat.lab)).toFixed(2)}x, medians of ${latencyRounds} rounds of ${latencyPerRound})\n`)
  })
}))

/** The lab's nodes as a Cluster (its cluster file, as users run on it), for the life of the current scope. */
function labCluster(clusterFile: string) {
  return Effect.map(Layer.build(Cluster.fromFile(clusterFile)), (ctx) => Context.get(ctx, Cluster.Cluster))
}

Effect.runPromise(program).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${String(e)}\n`)
    process.exit(1)
  }
)
