/** `ducktape clean`: what crashed sessions left on the nodes, found and removed. */
import { Effect, Option } from "effect"
import * as Clean from "../../Clean.js"
import * as Cluster from "../../Cluster.js"
import * as Docker from "../../Docker.js"
import { type ClusterChoice, clusterLayer, fixFor } from "./clusterFlags.js"
import * as DockerCli from "./docker.js"
import { UsageError } from "./errors.js"

/** Scans the cluster the flags name (this machine by default) and removes, or lists, the leftovers. */
export const clean = (o: ClusterChoice & { readonly dryRun: boolean }) =>
  Effect.gen(function*() {
    // Containers of dead sessions on the Docker engine(s); a docker cluster is not made just to be scanned.
    const dockerAsked = Option.isSome(Option.flatMap(o.cluster, Docker.parseClusterFlag))
    yield* DockerCli.clean(o.dryRun, dockerAsked)
    if (dockerAsked) {
      // A killed docker driver also leaves its scratch here: the cluster's key, a node image's build directory.
      const scratch = yield* Clean.cleanLocalScratch({ dryRun: o.dryRun })
      if (scratch.length > 0) yield* report(scratch, o.dryRun, "local leftovers")
      return
    }
    // The localhost cluster's nodes are all this machine: one node is enough to scan it.
    const none = Option.isNone(o.cluster) && Option.isNone(o.clusterFile) && Option.isNone(o.sshConfig)
    const layer = yield* clusterLayer({ ...o, cluster: none ? Option.some("localhost:1") : o.cluster })
    const removed = yield* Effect.flatMap(Cluster.Cluster, (c) => Clean.clean(c.all, { dryRun: o.dryRun })).pipe(
      Effect.provide(layer),
      Effect.mapError((e) => new UsageError({ problem: e.message, fix: fixFor(e) }))
    )
    yield* report(removed, o.dryRun, "leftovers")
  })

/** The leftovers found, one per line, and how many were removed (or, on a dry run, found). */
const report = (leftovers: ReadonlyArray<Clean.Leftover>, dryRun: boolean, what: string) =>
  Effect.sync(() =>
    process.stdout.write(
      `${Clean.describe(leftovers)}\n${
        leftovers.length === 0 ? "" : dryRun ? `${leftovers.length} ${what} found (dry run: nothing removed)\n` : `removed ${leftovers.length} ${what}\n`
      }`
    )
  )
