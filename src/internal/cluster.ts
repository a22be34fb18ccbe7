import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { Scope } from "effect"
import { Effect, Either, Layer, ParseResult, Redacted, Schema } from "effect"
import type * as C from "../Cluster.js"
import { Cluster, ClusterConfigError, InsufficientResources, UnreachableNodes } from "../Cluster.js"
import * as LocalAccount from "../LocalAccount.js"
import type { RemoteAccount } from "../RemoteAccount.js"
import * as SshAccount from "../SshAccount.js"

// ---------------------------------------------------------------------------------------------------------
// Specs and allocation
// ---------------------------------------------------------------------------------------------------------

/** @internal */
export const normalize = (spec: C.ClusterSpec): C.NormalizedSpec => {
  const groups = typeof spec === "number"
    ? [{ numNodes: spec }]
    : Array.isArray(spec)
    ? spec
    : [spec as { readonly numNodes: number; readonly nodeType?: string }]
  return groups.map((g) => ({ numNodes: Math.max(0, Math.floor(g.numNodes)), nodeType: g.nodeType }))
}

const describeNodes = (nodes: ReadonlyArray<{ readonly nodeType: string | undefined }>): string => {
  const typed = new Map<string, number>()
  for (const n of nodes) if (n.nodeType !== undefined) typed.set(n.nodeType, (typed.get(n.nodeType) ?? 0) + 1)
  const detail = [...typed].map(([t, k]) => `${k} ${t}`).join(", ")
  return `${nodes.length} node${nodes.length === 1 ? "" : "s"}${detail === "" ? "" : ` (${detail})`}`
}

/** @internal */
export const describeSpec = (spec: C.ClusterSpec): string =>
  describeNodes(normalize(spec).flatMap((g) => Array.from({ length: g.numNodes }, () => ({ nodeType: g.nodeType }))))

/** How many nodes of each type a spec asks for; `undefined` is "any type". */
const needs = (spec: C.NormalizedSpec) => {
  const typed = new Map<string, number>()
  let untyped = 0
  for (const g of spec) {
    if (g.nodeType === undefined) untyped += g.numNodes
    else typed.set(g.nodeType, (typed.get(g.nodeType) ?? 0) + g.numNodes)
  }
  return { typed, untyped }
}

/**
 * `needs` of a spec, remembered: the scheduler asks whether the same few specs fit after every finished test.
 */
const needsCache = new WeakMap<object, ReturnType<typeof needs>>()
const countNeeds = new Map<number, ReturnType<typeof needs>>()
const needsOf = (spec: C.ClusterSpec): ReturnType<typeof needs> => {
  const cache = typeof spec === "number" ? undefined : needsCache.get(spec)
  if (cache !== undefined) return cache
  if (typeof spec === "number") {
    let n = countNeeds.get(spec)
    if (n === undefined) countNeeds.set(spec, n = needs(normalize(spec)))
    return n
  }
  const computed = needs(normalize(spec))
  needsCache.set(spec, computed)
  return computed
}

/**
 * Whether nodes counted by type can meet a spec. Typed requests are served first, so that an untyped request never
 * takes the node a typed one needed; an untyped request may take nodes of any type.
 */
const canMeet = (spec: C.NormalizedSpec, countOf: (type: string | undefined) => number, total: number): boolean =>
  meets(needs(spec), countOf, total)

const meets = (
  { typed, untyped }: ReturnType<typeof needs>,
  countOf: (type: string | undefined) => number,
  total: number
): boolean => {
  let typedTotal = 0
  for (const [type, n] of typed) {
    if (countOf(type) < n) return false
    typedTotal += n
  }
  return total - typedTotal >= untyped
}

const countByType = (nodes: ReadonlyArray<C.ClusterNode>) => {
  const counts = new Map<string | undefined, number>()
  for (const n of nodes) counts.set(n.nodeType, (counts.get(n.nodeType) ?? 0) + 1)
  return counts
}

/** @internal */
export const fitsIn = (spec: C.ClusterSpec, nodes: ReadonlyArray<C.ClusterNode>): boolean => {
  const counts = countByType(nodes)
  return canMeet(normalize(spec), (t) => counts.get(t) ?? 0, nodes.length)
}

/**
 * The synchronous core of a pool, for the runner's scheduler only: not on `Cluster`, where a test could give back
 * nodes another test holds.
 * @internal
 */
export interface PoolCore {
  /** Takes nodes now if the spec fits (undefined, and nothing taken, if not); the caller must give them back. */
  readonly tryTake: (spec: C.ClusterSpec) => ReadonlyArray<C.ClusterNode> | undefined
  /** Returns nodes `tryTake` handed out. */
  readonly giveBack: (nodes: ReadonlyArray<C.ClusterNode>) => void
}

const cores = new WeakMap<C.Cluster, PoolCore>()

/** The core of a pool made here; undefined for a Cluster built some other way. @internal */
export const coreOf = (cluster: C.Cluster): PoolCore | undefined => cores.get(cluster)

/**
 * A pool keeps its free nodes in one list per type, so checking and taking cost O(request), not O(cluster): the
 * scheduler tries every waiting spec after every finished test.
 * @internal
 */
export const makePool = (nodes: ReadonlyArray<C.ClusterNode>): Effect.Effect<C.Cluster> =>
  Effect.sync(() => {
    // Each list is kept in descending index order, so `pop` hands out the lowest-numbered free node first.
    const free = new Map<string | undefined, Array<C.ClusterNode>>()
    for (const n of [...nodes].sort((a, b) => b.index - a.index)) {
      const list = free.get(n.nodeType) ?? []
      list.push(n)
      free.set(n.nodeType, list)
    }
    const used = new Set<number>()
    let maxUsed = 0
    let freeCount = nodes.length
    const allCounts = countByType(nodes)
    const countOf = (type: string | undefined) => free.get(type)?.length ?? 0
    const availableNow = () => nodes.filter((n) => !used.has(n.index))

    // The synchronous core: checking, taking and giving back are single steps that fibers cannot interleave, and
    // cost no Effect machinery — the scheduler makes 10,000 of them in a few milliseconds.
    const tryTake = (spec: C.ClusterSpec): ReadonlyArray<C.ClusterNode> | undefined => {
      const { typed, untyped } = needsOf(spec)
      if (!meets({ typed, untyped }, countOf, freeCount)) return undefined
      const chosen: Array<C.ClusterNode> = []
      for (const [type, n] of typed) for (let k = 0; k < n; k++) chosen.push(free.get(type)!.pop()!)
      let rest = untyped
      for (const type of [undefined, ...free.keys()]) {
        const list = free.get(type)
        while (rest > 0 && list !== undefined && list.length > 0) {
          chosen.push(list.pop()!)
          rest--
        }
      }
      for (const n of chosen) used.add(n.index)
      freeCount -= chosen.length
      maxUsed = Math.max(maxUsed, used.size)
      return chosen
    }

    const giveBack = (chosen: ReadonlyArray<C.ClusterNode>): void => {
      for (const n of chosen) {
        if (!used.delete(n.index)) continue // released twice: harmless
        const list = free.get(n.nodeType)!
        // Keep descending order; a sorted insert is cheap next to the work a test does.
        let at = list.length
        while (at > 0 && list[at - 1]!.index < n.index) at--
        list.splice(at, 0, n)
        freeCount++
      }
    }

    const alloc = (spec: C.ClusterSpec): Effect.Effect<ReadonlyArray<C.ClusterNode>, InsufficientResources, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const chosen = tryTake(spec)
          return chosen !== undefined
            ? Effect.succeed(chosen)
            : Effect.fail(new InsufficientResources({ requested: describeSpec(spec), available: describeNodes(availableNow()) }))
        }),
        (chosen) => Effect.sync(() => giveBack(chosen))
      )

    const cluster: C.Cluster = {
      all: nodes,
      size: nodes.length,
      available: Effect.sync(availableNow),
      used: Effect.sync(() => nodes.filter((n) => used.has(n.index))),
      maxUsed: Effect.sync(() => maxUsed),
      fitsNow: (spec) => Effect.sync(() => meets(needsOf(spec), countOf, freeCount)),
      fitsEver: (spec) => canMeet(normalize(spec), (t) => allCounts.get(t) ?? 0, nodes.length),
      alloc
    }
    cores.set(cluster, { tryTake, giveBack })
    return cluster
  })

const nodesOf = (accounts: ReadonlyArray<{ account: RemoteAccount; nodeType: string | undefined }>) =>
  accounts.map(({ account, nodeType }, index): C.ClusterNode => ({ name: account.hostname, index, account, nodeType }))

// ---------------------------------------------------------------------------------------------------------
// localhost
// ---------------------------------------------------------------------------------------------------------

/** Loopback address of localhost node i (1-based): 127.0.0.11, .12, … continuing into 127.0.1.x. */
const loopbackAddress = (i: number) => {
  const n = 10 + i
  return `127.0.${Math.floor(n / 256)}.${n % 256}`
}

/** The most localhost nodes: one loopback address each below 127.1.0.0. */
const maxLocalhostNodes = 256 * 256 - 11

/** @internal */
export const localhost = (options: C.LocalhostOptions): Layer.Layer<C.Cluster, ClusterConfigError> =>
  Layer.scoped(
    Cluster,
    Effect.gen(function*() {
      if (!Number.isInteger(options.numNodes) || options.numNodes < 1 || options.numNodes > maxLocalhostNodes) {
        return yield* Effect.fail(
          new ClusterConfigError({
            source: `localhost:${options.numNodes}`,
            problem: "the number of localhost nodes must be a whole number from 1 to " + maxLocalhostNodes,
            fix: "pass e.g. --cluster localhost:3"
          })
        )
      }
      const root = options.root ?? (yield* Effect.acquireRelease(
        Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), `ducktape-localhost-${process.pid}-`))),
        (dir) => options.keep === true ? Effect.void : Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true })).pipe(Effect.ignore)
      ))
      const accounts = yield* Effect.forEach(
        Array.from({ length: options.numNodes }, (_, k) => k + 1),
        (i) =>
          LocalAccount.make({
            hostname: `worker${i}`,
            workdir: NodePath.join(root, `worker${i}`),
            address: loopbackAddress(i)
          }),
        { concurrency: 16 }
      )
      return yield* makePool(nodesOf(accounts.map((account) => ({ account, nodeType: undefined }))))
    })
  )

// ---------------------------------------------------------------------------------------------------------
// ssh-based sources
// ---------------------------------------------------------------------------------------------------------

/** One node of an ssh-based source, before connecting. */
interface SshNodeConfig {
  readonly host: string
  readonly hostname: string
  readonly user: string | undefined
  readonly port: number
  readonly password: string | undefined
  readonly identityFile: string | undefined
  readonly connectTimeoutSeconds: number | undefined
  readonly strictHostKeyChecking: boolean | undefined
  readonly knownHostsFile: string | undefined
  readonly externallyRoutableIp: string | undefined
  /** Reached through a port forwarded to the driver's loopback: the node itself says where others reach it. */
  readonly askExternallyRoutableIp: boolean
  readonly nodeType: string | undefined
  readonly workdir: string | undefined
}

/** A loopback host name or address: every node behind one would claim the same address. @internal */
export const isLoopback = (hostname: string) => /^127\./.test(hostname) || hostname === "localhost" || hostname === "::1"

/** Where a node's scratch lives when the cluster definition does not say. */
const defaultSshWorkdir = "/tmp/ducktape"

const connectNodes = (source: string, configs: ReadonlyArray<SshNodeConfig>, options: C.SshSourceOptions) =>
  Effect.gen(function*() {
    if (configs.length === 0) {
      return yield* Effect.fail(
        new ClusterConfigError({ source, problem: "it defines no nodes", fix: "add at least one node" })
      )
    }
    const names = new Set<string>()
    for (const c of configs) {
      if (names.has(c.host)) {
        return yield* Effect.fail(
          new ClusterConfigError({
            source,
            problem: `two nodes are named ${JSON.stringify(c.host)}`,
            fix: "give every node its own host name"
          })
        )
      }
      names.add(c.host)
    }
    const results = yield* Effect.forEach(
      configs,
      (c) =>
        SshAccount.make({
          hostname: c.host,
          sshHostname: c.hostname,
          port: c.port,
          user: c.user ?? NodeOs.userInfo().username,
          ...(c.identityFile === undefined ? {} : { identityFile: c.identityFile }),
          ...(c.password === undefined ? {} : { password: Redacted.make(c.password) }),
          ...(c.connectTimeoutSeconds === undefined ? {} : { connectTimeout: `${c.connectTimeoutSeconds} seconds` }),
          strictHostKeyChecking: c.strictHostKeyChecking ?? options.strictHostKeyChecking ?? true,
          ...(c.knownHostsFile === undefined ? {} : { knownHosts: c.knownHostsFile }),
          ...(c.externallyRoutableIp !== undefined
            ? { externallyRoutableIp: c.externallyRoutableIp }
            : c.askExternallyRoutableIp
            ? { askExternallyRoutableIp: true }
            : { externallyRoutableIp: c.hostname }),
          workdir: c.workdir ?? defaultSshWorkdir
        }).pipe(
          Effect.tap((account) =>
            options.healthCheck === false ? Effect.void : account.mkdirs(account.workdir)
          ),
          Effect.tap((account) =>
            c.askExternallyRoutableIp
              ? Effect.logInfo(`${c.host} is reached through ${c.hostname}:${c.port}; it says others reach it at ${account.externallyRoutableIp}`)
              : Effect.void
          ),
          Effect.map((account) => ({ account, nodeType: c.nodeType })),
          Effect.either
        ),
      { concurrency: 32 }
    )
    const failed = results.flatMap((r, i) =>
      Either.isLeft(r) ? [{ name: configs[i]!.host, reason: r.left.message }] : []
    )
    if (failed.length > 0) return yield* Effect.fail(new UnreachableNodes({ nodes: failed }))
    return yield* makePool(nodesOf(results.flatMap((r) => (Either.isRight(r) ? [r.right] : []))))
  })

const readText = (source: string, path: string) =>
  Effect.tryPromise({
    try: () => NodeFs.readFile(path, "utf8"),
    catch: (e) =>
      new ClusterConfigError({
        source,
        problem: (e as NodeJS.ErrnoException).code === "ENOENT" ? "the file does not exist" : `cannot read it: ${String(e)}`,
        fix: "check the path (it is relative to the current directory)"
      })
  })

// ducktape's cluster.json, read as-is. Unknown keys are ignored, as ducktape does.
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

const formatPath = (path: ReadonlyArray<PropertyKey>) =>
  path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s === "" ? String(k) : `${s}.${String(k)}`), "")

const boolOf = (v: boolean | "yes" | "no" | undefined) => (v === undefined ? undefined : v === true || v === "yes")

const resolveFrom = (base: string, p: string | null | undefined) =>
  p === undefined || p === null ? undefined : NodePath.resolve(base, p.replace(/^~(?=\/|$)/, NodeOs.homedir()))

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
      return yield* connectNodes(path, configs, options)
    })
  )

/** @internal */
export const fromFile = sshSource((path, text) => parseClusterJson(path, text))

// OpenSSH config: `Key value` or `Key=value`, case-insensitive keys, `Host` blocks with glob patterns; the first
// value obtained for a key wins, as in ssh_config(5).
const globToRegExp = (glob: string) =>
  new RegExp("^" + glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$")

/** @internal */
export const parseSshConfig = (path: string, text: string): Either.Either<ReadonlyArray<SshNodeConfig>, ClusterConfigError> => {
  const blocks: Array<{ patterns: Array<string>; options: Map<string, string> }> = []
  let current: { patterns: Array<string>; options: Map<string, string> } | undefined
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === "" || line.startsWith("#")) continue
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.+)$/.exec(line)
    if (m === null) {
      return Either.left(new ClusterConfigError({
        source: `${path}:${i + 1}`,
        problem: `cannot read ${JSON.stringify(line)}`,
        fix: "write options as `Key value`, inside `Host` blocks"
      }))
    }
    const key = m[1]!.toLowerCase()
    const value = m[2]!.trim().replace(/^"(.*)"$/, "$1")
    if (key === "host") {
      current = { patterns: value.split(/\s+/), options: new Map() }
      blocks.push(current)
    } else if (key === "match" || key === "include") {
      return Either.left(new ClusterConfigError({
        source: `${path}:${i + 1}`,
        problem: `\`${m[1]}\` is not supported in a cluster's ssh config`,
        fix: "list each node in a plain `Host` block"
      }))
    } else if (current === undefined) {
      // Options before any Host apply to every host.
      current = { patterns: ["*"], options: new Map() }
      blocks.push(current)
      current.options.set(key, value)
    } else if (!current.options.has(key)) {
      current.options.set(key, value)
    }
  }
  const aliases = blocks.flatMap((b) => b.patterns.filter((p) => !/[*?!]/.test(p)))
  const base = NodePath.dirname(NodePath.resolve(path))
  const configs: Array<SshNodeConfig> = []
  for (const alias of [...new Set(aliases)]) {
    const get = (key: string) => {
      for (const b of blocks) {
        if (b.patterns.some((p) => globToRegExp(p).test(alias)) && b.options.has(key)) return b.options.get(key)
      }
      return undefined
    }
    const port = get("port")
    if (port !== undefined && !/^\d+$/.test(port)) {
      return Either.left(new ClusterConfigError({
        source: path,
        problem: `Host ${alias}: Port ${JSON.stringify(port)} is not a number`,
        fix: "set Port to a TCP port number"
      }))
    }
    const strict = get("stricthostkeychecking")
    const timeout = get("connecttimeout")
    const hostname = get("hostname") ?? alias
    configs.push({
      host: alias,
      hostname,
      user: get("user"),
      port: port === undefined ? 22 : Number(port),
      password: undefined,
      identityFile: resolveFrom(base, get("identityfile")),
      connectTimeoutSeconds: timeout === undefined ? undefined : Number(timeout),
      strictHostKeyChecking: strict === undefined ? undefined : strict.toLowerCase() !== "no",
      knownHostsFile: resolveFrom(base, get("userknownhostsfile")?.split(/\s+/)[0]),
      // `vagrant ssh-config` names 127.0.0.1 and a forwarded port for every VM.
      externallyRoutableIp: isLoopback(hostname) ? undefined : hostname,
      askExternallyRoutableIp: isLoopback(hostname),
      nodeType: undefined,
      workdir: undefined
    })
  }
  return Either.right(configs)
}

/** @internal */
export const fromSshConfig = sshSource((path, text) => parseSshConfig(path, text))
