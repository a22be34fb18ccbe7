/** The cluster a command line asks for (--cluster, --cluster-file, --ssh-config) as a Layer. */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Cause, Effect, Layer, Option } from "effect"
import * as Cluster from "../../Cluster.js"
import * as Docker from "../../Docker.js"
import { errorText } from "../shared/errorText.js"
import { importUserModule } from "../runner/discovery/userModule.js"
import { UsageError } from "./errors.js"

/** The flags that choose the cluster. */
export interface ClusterChoice {
  readonly cluster: Option.Option<string>
  readonly clusterFile: Option.Option<string>
  readonly sshConfig: Option.Option<string>
}

const fail = (problem: string, fix: string) => Effect.fail(new UsageError({ problem, fix }))

/**
 * Whether a cluster file was written by `ducktape lab up` or `ducktape docker up` (a top-level `lab` or `docker`
 * key): their nodes are hosts with network stacks of their own.
 */
export const isLabClusterFile = (path: string): boolean => {
  try {
    const json = JSON.parse(NodeFs.readFileSync(path, "utf8")) as { lab?: unknown; docker?: unknown }
    return typeof json === "object" && json !== null && (json.lab !== undefined || json.docker !== undefined)
  } catch {
    return false // the cluster source reports an unreadable or malformed file properly
  }
}

/** The flags of `ducktape clean` that scan the same cluster, as a command line to copy. */
export const cleanCommandFor = (flags: ClusterChoice): string => {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
  if (Option.isSome(flags.clusterFile)) return `ducktape clean --cluster-file ${quote(flags.clusterFile.value)}`
  if (Option.isSome(flags.sshConfig)) return `ducktape clean --ssh-config ${quote(flags.sshConfig.value)}`
  if (Option.isSome(flags.cluster) && !/^localhost/.test(flags.cluster.value)) return `ducktape clean --cluster ${quote(flags.cluster.value)}`
  return "ducktape clean"
}

/**
 * A cluster of the user's own making (Docker containers, cloud VMs…), like ducktape's `--cluster MOD.CLASS`: a module
 * whose default export (or `cluster` export) is a Layer providing Cluster, its nodes given to `Cluster.make`.
 */
const moduleCluster = (path: string) =>
  Effect.gen(function*() {
    const absolute = NodePath.resolve(path)
    const usage = "export default a Layer providing Cluster, e.g. Layer.scoped(Cluster.Cluster, Effect.flatMap(makeNodes, Cluster.make))"
    if (!NodeFs.existsSync(absolute)) return yield* fail(`--cluster ${path}: no such file`, `check the path (relative to ${process.cwd()})`)
    const module = yield* Effect.tryPromise({
      try: () => importUserModule(absolute),
      catch: (e) => new UsageError({ problem: `--cluster ${path}: cannot import it: ${errorText(e)}`, fix: "fix the module" })
    })
    const exported = module["default"] ?? module["cluster"]
    if (!Layer.isLayer(exported)) return yield* fail(`--cluster ${path}: it exports no Layer (as default or \`cluster\`)`, usage)
    const provided = Effect.flatMap(Effect.serviceOption(Cluster.Cluster), (cluster) =>
      Option.isNone(cluster)
        ? fail(`--cluster ${path}: its Layer does not provide Cluster`, usage)
        : Effect.succeed(cluster.value))
    return Layer.effect(Cluster.Cluster, provided).pipe(
      Layer.provide(exported as Layer.Layer<unknown, unknown>),
      // A Layer that fails, or dies (it needs a service nobody provides, say), is the module's problem to fix.
      Layer.catchAllCause((cause) => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure) && failure.value instanceof UsageError) return Layer.fail(failure.value)
        const what = Option.isSome(failure) ? errorText(failure.value) : Cause.pretty(cause).split("\n")[0]
        return Layer.fail(new UsageError({ problem: `--cluster ${path}: its Layer failed: ${what}`, fix: "" }))
      })
    )
  })

/** A cluster as the run needs it: its errors explain themselves. */
export type ClusterLayer = Layer.Layer<Cluster.Cluster, { readonly _tag: string; readonly message: string }>

/** The cluster Layer the flags ask for. */
export const clusterLayer = (flags: ClusterChoice, keepLocalhost = false) =>
  Effect.gen(function*(): Effect.fn.Return<ClusterLayer, UsageError> {
    const chosen = [flags.cluster, flags.clusterFile, flags.sshConfig].filter(Option.isSome).length
    if (chosen > 1) return yield* fail("--cluster, --cluster-file and --ssh-config exclude each other", "pass only one of them")
    if (Option.isSome(flags.clusterFile)) return Cluster.fromFile(flags.clusterFile.value)
    if (Option.isSome(flags.sshConfig)) return Cluster.fromSshConfig(flags.sshConfig.value)
    const spec = Option.getOrElse(flags.cluster, () => "localhost:8")
    if (/\.[cm]?[jt]s$/.test(spec)) return yield* moduleCluster(spec)
    const docker = Docker.parseClusterFlag(spec)
    if (Option.isSome(docker)) {
      return typeof docker.value === "string"
        ? yield* fail(docker.value, "use --cluster docker:N or docker:N,TYPE=N (types: small, medium, large)")
        : Docker.layer(docker.value)
    }
    const m = /^localhost(?::(\d+))?$/.exec(spec)
    if (m === null) {
      // A cluster file given to the wrong flag is the likeliest mix-up: say so rather than list every kind.
      if (/\.(json|ya?ml)$/i.test(spec)) {
        return yield* fail(`--cluster ${JSON.stringify(spec)} names a file, and --cluster takes a kind of cluster`, `pass a cluster file as --cluster-file ${spec}`)
      }
      return yield* fail(
        `--cluster ${JSON.stringify(spec)} is not a cluster this tool knows`,
        "use --cluster localhost:N, docker:N or ./my-cluster.ts (a module), or --cluster-file FILE / --ssh-config FILE for ssh nodes"
      )
    }
    return Cluster.localhost({ numNodes: m[1] === undefined ? 8 : Number(m[1]), keep: keepLocalhost })
  })

/** A fix line for errors whose message does not already carry one. */
export const fixFor = (e: { readonly _tag: string }) =>
  e._tag === "UnreachableNodes" ? "check that each node is up and its ssh settings in the cluster definition are right" : ""
