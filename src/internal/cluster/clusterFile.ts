/** ducktape's cluster.json: parsed with Schema, unknown keys warned about with the key most likely meant. */
import * as NodePath from "node:path"
import { Effect, Either, Layer, ParseResult, Schema } from "effect"
import type * as C from "../../Cluster.js"
import { ClusterConfigError } from "./errors.js"
import { Cluster } from "./tag.js"
import { connectNodes, didYouMean, isLoopback, readText, resolveFrom, type SshNodeConfig } from "./sshNodes.js"

// ducktape's cluster.json, read as-is. Unknown keys are ignored, as ducktape does, but with a warning (below).
const BoolLike = Schema.Union(Schema.Boolean, Schema.Literal("yes", "no"))
const SshConfigJson = Schema.Struct({
  host: Schema.String,
  hostname: Schema.optional(Schema.String),
  user: Schema.optional(Schema.NullOr(Schema.String)),
  port: Schema.optional(Schema.Int.pipe(Schema.between(1, 65535))),
  password: Schema.optional(Schema.NullOr(Schema.String)),
  identityfile: Schema.optional(Schema.NullOr(Schema.String)),
  connecttimeout: Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.positive()))),
  stricthostkeychecking: Schema.optional(BoolLike),
  userknownhostsfile: Schema.optional(Schema.String)
})
const ClusterJson = Schema.Struct({
  nodes: Schema.Array(
    Schema.Struct({
      ssh_config: SshConfigJson,
      externally_routable_ip: Schema.optional(Schema.NullOr(Schema.String)),
      node_type: Schema.optional(Schema.NullOr(Schema.String)),
      workdir: Schema.optional(Schema.String)
    })
  ),
  /** A known_hosts file for every node (the lab writes one). */
  known_hosts: Schema.optional(Schema.String),
  /** The scratch directory on every node that does not set its own. */
  workdir: Schema.optional(Schema.String)
})

/** The keys ducktape reads at each level of a cluster.json; anything else is reported as a warning. */
const clusterJsonKeys = {
  // `lab` and a node's `netns` are what `ducktape lab up` writes for its own commands (clean, down); `docker`, what
  // `ducktape docker up` writes.
  top: ["nodes", "known_hosts", "workdir", "lab", "docker"],
  node: ["ssh_config", "externally_routable_ip", "node_type", "workdir", "netns"],
  ssh_config: ["host", "hostname", "user", "port", "password", "identityfile", "connecttimeout", "stricthostkeychecking", "userknownhostsfile"]
} as const

/**
 * Keys of a cluster.json that ducktape does not read (a typo such as `identity_file` would otherwise be ignored
 * silently), one warning per key naming every node that has it, with the key most likely meant.
 * @internal
 */
export const clusterJsonWarnings = (path: string, text: string): ReadonlyArray<string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return []
  }
  const found = new Map<string, { key: string; known: ReadonlyArray<string>; at: Array<string> }>()
  const check = (value: unknown, known: ReadonlyArray<string>, level: string, at: string) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue
      const entry = found.get(`${level}\u0000${key}`) ?? { key, known, at: [] }
      entry.at.push(at === "" ? key : `${at}.${key}`)
      found.set(`${level}\u0000${key}`, entry)
    }
  }
  check(json, clusterJsonKeys.top, "top", "")
  const nodes = (json as { nodes?: unknown } | null)?.nodes
  if (Array.isArray(nodes)) {
    nodes.forEach((n, i) => {
      check(n, clusterJsonKeys.node, "node", `nodes[${i}]`)
      check((n as { ssh_config?: unknown } | null)?.ssh_config, clusterJsonKeys.ssh_config, "ssh_config", `nodes[${i}].ssh_config`)
    })
  }
  return [...found.values()].map(({ key, known, at }) => {
    const guess = didYouMean(key, known)
    const where = at.length <= 3 ? at.join(", ") : `${at.slice(0, 2).join(", ")} and ${at.length - 2} more`
    return `${path}: ${where}: ducktape does not read the key ${JSON.stringify(key)} and ignores it` +
      (guess === undefined ? "" : `; did you mean ${JSON.stringify(guess)}?`)
  })
}

const formatPath = (path: ReadonlyArray<PropertyKey>) =>
  path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s === "" ? String(k) : `${s}.${String(k)}`), "")

const boolOf = (v: boolean | "yes" | "no" | undefined) => (v === undefined ? undefined : v === true || v === "yes")

/** @internal */
export const parseClusterJson = (path: string, text: string): Either.Either<ReadonlyArray<SshNodeConfig>, ClusterConfigError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Either.left(
      new ClusterConfigError({ source: path, problem: `not valid JSON: ${(e as Error).message}`, fix: "fix the JSON syntax" })
    )
  }
  const decoded = Schema.decodeUnknownEither(ClusterJson, { errors: "all" })(json)
  if (Either.isLeft(decoded)) {
    // An optional field reports both its alternatives; "Expected undefined" says nothing a person needs.
    const all = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
    const issues = all.filter((i) => !(i.message.startsWith("Expected undefined") && all.some((o) => o !== i && formatPath(o.path) === formatPath(i.path))))
    return Either.left(
      new ClusterConfigError({
        source: path,
        problem: "the cluster definition is malformed:\n" +
          issues.map((i) => `    ${formatPath(i.path) || "(top level)"}: ${i.message}`).join("\n"),
        fix: `each node needs {"ssh_config": {"host": NAME, "hostname": ADDRESS, "user": USER, "port": 22, ` +
          `"identityfile": KEY}} (see README, "Cluster file")`
      })
    )
  }
  const base = NodePath.dirname(NodePath.resolve(path))
  const file = decoded.right
  return Either.right(file.nodes.map((n): SshNodeConfig => ({
    host: n.ssh_config.host,
    hostname: n.ssh_config.hostname ?? "localhost",
    user: n.ssh_config.user ?? undefined,
    port: n.ssh_config.port ?? 22,
    password: n.ssh_config.password ?? undefined,
    identityFile: resolveFrom(base, n.ssh_config.identityfile),
    connectTimeoutSeconds: n.ssh_config.connecttimeout ?? undefined,
    strictHostKeyChecking: boolOf(n.ssh_config.stricthostkeychecking),
    knownHostsFile: resolveFrom(base, n.ssh_config.userknownhostsfile ?? file.known_hosts),
    externallyRoutableIp: n.externally_routable_ip ?? undefined,
    askExternallyRoutableIp: n.externally_routable_ip == null && isLoopback(n.ssh_config.hostname ?? "localhost"),
    nodeType: n.node_type ?? undefined,
    workdir: n.workdir ?? file.workdir
  })))
}

/** A cluster from a file of ssh node definitions: read it, parse it, connect to every node. */
const sshSource = (
  parse: (path: string, text: string) => Either.Either<ReadonlyArray<SshNodeConfig>, ClusterConfigError>
) =>
(path: string, options: C.SshSourceOptions = {}) =>
  Layer.scoped(
    Cluster,
    Effect.gen(function*() {
      const text = yield* readText(path, path)
      const configs = yield* parse(path, text)
      yield* Effect.forEach(clusterJsonWarnings(path, text), (w) => Effect.logWarning(w), { discard: true })
      return yield* connectNodes(path, configs, options, "cluster.json")
    })
  )

/** @internal */
export const fromFile = sshSource((path, text) => parseClusterJson(path, text))
