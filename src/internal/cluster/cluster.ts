import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { Scope } from "effect"
import { Effect, Either, Layer, ParseResult, Redacted, Schema } from "effect"
import type * as C from "../../Cluster.js"
import { ClusterConfigError, InsufficientResources, UnreachableNodes } from "./errors.js"
import { Cluster, PoolTypeId } from "./tag.js"
import * as LocalAccount from "../../LocalAccount.js"
import type { RemoteAccount, RemoteConnectionError } from "../../RemoteAccount.js"
import * as SshAccount from "../../SshAccount.js"
import { errorText } from "../shared/errorText.js"
import * as KnownHosts from "../remote/ssh/knownHosts.js"

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
      alloc,
      [PoolTypeId]: { tryTake, giveBack }
    }
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
  /** Jump hosts (ProxyJump), first hop first. */
  readonly proxyJump?: ReadonlyArray<JumpConfig>
}

/** One jump host of a node, as its ssh_config gives it. */
interface JumpConfig {
  readonly hostname: string
  readonly user: string | undefined
  readonly port: number
  readonly identityFile: ReadonlyArray<string> | undefined
  readonly strictHostKeyChecking: boolean | undefined
  readonly knownHostsFile: string | undefined
}

/** How a cluster file spells its settings, so that a hint names the key the file itself would hold. */
type Spelling = "cluster.json" | "ssh_config"

const settingName: Record<Spelling, Record<"hostname" | "port" | "user" | "identity" | "timeout" | "strictOff", string>> = {
  "cluster.json": {
    hostname: `"hostname"`,
    port: `"port"`,
    user: `"user"`,
    identity: `"identityfile" (or "password")`,
    timeout: `"connecttimeout" (seconds)`,
    strictOff: `"stricthostkeychecking": "no"`
  },
  ssh_config: {
    hostname: "HostName",
    port: "Port",
    user: "User",
    identity: "IdentityFile",
    timeout: "ConnectTimeout (seconds)",
    strictOff: "StrictHostKeyChecking no"
  }
}

/** Single quotes for a shell word shown in a hint. */
const shellWord = (s: string) => (/^[\w@%+=:,./~-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/**
 * Why a node cannot be reached, without its name (nodes behind one sshd then share the line), and the fix in the
 * cluster file's own words.
 */
const unreachableReason = (error: { readonly _tag: string; readonly message: string }, c: SshNodeConfig, spelling: Spelling): string => {
  if (error._tag !== "RemoteConnectionError") return error.message
  const e = error as RemoteConnectionError
  const words = settingName[spelling]
  const where = spelling === "cluster.json" ? "in the node's ssh_config" : "in its Host block"
  const knownHosts = c.knownHostsFile ?? "~/.ssh/known_hosts"
  const address = `${c.hostname}:${c.port}`
  const fix = e.reason === "refused"
    ? `is sshd running on ${address}? check ${words.hostname} and ${words.port} ${where}`
    : e.reason === "auth"
    ? `check ${words.user} and ${words.identity} ${where}`
    : e.reason === "timeout"
    ? `is the host up and reachable from here? for a slow link raise ${words.timeout} ${where}`
    : e.reason === "dns"
    ? `check ${words.hostname} ${where}`
    : e.reason === "unknown-host"
    ? `add its key: ssh-keyscan -p ${c.port} ${shellWord(c.hostname)} >> ${shellWord(knownHosts)}; or, for throw-away ` +
      `hosts only, set ${words.strictOff} ${where}`
    : e.reason === "host-key"
    ? `if the host was reinstalled, remove its old key (ssh-keygen -R ${shellWord(KnownHosts.lookupName(c.hostname, c.port))} ` +
      `-f ${shellWord(knownHosts)}) and add the new one; otherwise someone may be in the way`
    : e.reason === "closed"
    ? "the connection dropped; the host may have rebooted or sshd restarted"
    : "see the detail above"
  return `${address} (${e.reason}: ${e.detail}); ${fix}`
}

/** A loopback host name or address: every node behind one would claim the same address. @internal */
export const isLoopback = (hostname: string) => /^127\./.test(hostname) || hostname === "localhost" || hostname === "::1"

/** Where a node's scratch lives when the cluster definition does not say. */
const defaultSshWorkdir = "/tmp/ducktape"

const connectNodes = (source: string, configs: ReadonlyArray<SshNodeConfig>, options: C.SshSourceOptions, spelling: Spelling) =>
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
          workdir: c.workdir ?? defaultSshWorkdir,
          ...(c.proxyJump === undefined ? {} : {
            proxyJump: c.proxyJump.map((j) => ({
              hostname: j.hostname,
              port: j.port,
              ...(j.user === undefined ? {} : { user: j.user }),
              ...(j.identityFile === undefined ? {} : { identityFile: j.identityFile }),
              strictHostKeyChecking: j.strictHostKeyChecking ?? options.strictHostKeyChecking ?? true,
              ...(j.knownHostsFile === undefined ? {} : { knownHosts: j.knownHostsFile })
            }))
          })
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
      Either.isLeft(r) ? [{ name: configs[i]!.host, reason: unreachableReason(r.left, configs[i]!, spelling) }] : []
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
  // `lab` and a node's `netns` are what `ducktape lab up` writes for its own commands (clean, down).
  top: ["nodes", "known_hosts", "workdir", "lab"],
  node: ["ssh_config", "externally_routable_ip", "node_type", "workdir", "netns"],
  ssh_config: ["host", "hostname", "user", "port", "password", "identityfile", "connecttimeout", "stricthostkeychecking", "userknownhostsfile"]
} as const

const editDistance = (a: string, b: string): number => {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)))
    }
    row = next
  }
  return row[b.length]!
}

/** The candidate a mistyped name most likely means (case, `_` and `-` aside, at most a third of it changed). */
const didYouMean = (name: string, candidates: ReadonlyArray<string>): string | undefined => {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, "")
  let best: { candidate: string; distance: number } | undefined
  for (const candidate of candidates) {
    const distance = editDistance(norm(name), norm(candidate))
    if (best === undefined || distance < best.distance) best = { candidate, distance }
  }
  return best !== undefined && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.candidate : undefined
}

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
      yield* Effect.forEach(clusterJsonWarnings(path, text), (w) => Effect.logWarning(w), { discard: true })
      return yield* connectNodes(path, configs, options, "cluster.json")
    })
  )

/** @internal */
export const fromFile = sshSource((path, text) => parseClusterJson(path, text))

// ---------------------------------------------------------------------------------------------------------
// OpenSSH config files
// ---------------------------------------------------------------------------------------------------------

// An ssh_config is read by OpenSSH itself: `ssh -G -F FILE ALIAS` prints every option as ssh would use it for that
// host. That gives ssh's exact semantics — first value wins, `Host * !bastion`, Include, Match, %-tokens, and an
// error with file and line for anything ssh refuses — which a separate parser (the `ssh-config` npm package, or
// ours before) only approximates: ours applied `Host * !bastion`'s User to bastion, and `Match host` tests the
// HostName as it stands at that line. The cost is a process per host, run 8 at a time, once per run: measured on
// this 2-core machine under load 17, ~12 ms of CPU and ~60 ms wall per `ssh -G`; a 32-host file took 2.1 s and a
// 128-host file 8.5 s (median of 5; on an idle machine expect several times less).

/** Options that `ssh -G` prints for one host, first value per key except the listed multi-valued ones. */
type SshOptions = ReadonlyMap<string, ReadonlyArray<string>>

const sshG = (source: string, args: ReadonlyArray<string>): Effect.Effect<SshOptions, ClusterConfigError> =>
  Effect.async<SshOptions, ClusterConfigError>((resume) => {
    const child = NodeChild.execFile("ssh", ["-G", ...args], { timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err !== null) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          return resume(Effect.fail(new ClusterConfigError({
            source,
            problem: "reading an ssh config needs the OpenSSH client (`ssh`), and it is not installed",
            fix: "install it (apt-get install -y openssh-client), or describe the nodes in a cluster.json (--cluster-file)"
          })))
        }
        return resume(Effect.fail(sshConfigError(source, stderr || errorText(err))))
      }
      const options = new Map<string, Array<string>>()
      for (const line of stdout.split("\n")) {
        const at = line.indexOf(" ")
        if (at <= 0) continue
        const key = line.slice(0, at)
        options.set(key, [...(options.get(key) ?? []), line.slice(at + 1)])
      }
      resume(Effect.succeed(options))
    })
    return Effect.sync(() => child.kill())
  })

/** ssh's own complaint about a config file (`FILE line 3: Bad configuration option: conecttimeout`), as a ClusterConfigError. */
const sshConfigError = (source: string, stderr: string): ClusterConfigError => {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("Pseudo-terminal"))
  const located = lines.map((l) => /^(.*?):? line (\d+): (.*)$/.exec(l)).find((m) => m !== null)
  if (located == null) {
    return new ClusterConfigError({ source, problem: `ssh cannot read it: ${lines.join("; ")}`, fix: "fix the file (see ssh_config(5))" })
  }
  const problem = located[3]!
  const unknown = /^Bad configuration option: (\S+)/.exec(problem)?.[1]
  const guess = unknown === undefined ? undefined : didYouMean(unknown, sshOptionNames)
  return new ClusterConfigError({
    source: `${located[1]}:${located[2]}`,
    problem: `ssh refuses this line: ${problem}`,
    fix: guess !== undefined ? `did you mean ${guess}? (ssh_config(5) lists the options)` : "fix or remove the line (see ssh_config(5))"
  })
}

/** The ssh_config options a typo is most likely meant as (the ones cluster files use). */
const sshOptionNames = [
  "Host", "Match", "Include", "HostName", "User", "Port", "IdentityFile", "IdentitiesOnly", "ConnectTimeout",
  "StrictHostKeyChecking", "UserKnownHostsFile", "ProxyJump", "ProxyCommand", "ForwardAgent", "LogLevel",
  "PasswordAuthentication", "PubkeyAuthentication", "ServerAliveInterval", "ServerAliveCountMax", "Compression",
  "ControlMaster", "ControlPath", "ControlPersist", "HostKeyAlias", "CertificateFile", "AddKeysToAgent"
]

/** Host aliases named in `Host` lines (no patterns), of the file and of the files it Includes, in file order. */
const hostAliases = (path: string, depth = 0): Effect.Effect<ReadonlyArray<string>, ClusterConfigError> =>
  Effect.gen(function*() {
    if (depth > 16) return [] // ssh refuses deeper nesting itself, with its own message
    const text = yield* readText(path, path)
    const aliases: Array<string> = []
    for (const raw of text.split(/\r?\n/)) {
      const m = /^\s*(\w+)(?:\s*=\s*|\s+)(.*?)\s*$/.exec(raw.replace(/(^|\s)#.*$/, ""))
      if (m === null) continue
      const key = m[1]!.toLowerCase()
      const words = m[2]!.split(/\s+/).map((w) => w.replace(/^"(.*)"$/, "$1")).filter((w) => w !== "")
      if (key === "host") {
        aliases.push(...words.filter((w) => !/[*?!]/.test(w)))
      } else if (key === "include") {
        for (const pattern of words) {
          // As ssh reads a `-F` file: a relative Include is under ~/.ssh.
          const full = pattern.startsWith("~") ? NodeOs.homedir() + pattern.slice(1)
            : NodePath.isAbsolute(pattern) ? pattern
            : NodePath.join(NodeOs.homedir(), ".ssh", pattern)
          for (const file of yield* includedFiles(full)) aliases.push(...(yield* hostAliases(file, depth + 1)))
        }
      }
    }
    return aliases
  })

/** The files an Include pattern names (wildcards in its last part, matched as ssh matches patterns), sorted. */
const includedFiles = (pattern: string): Effect.Effect<ReadonlyArray<string>> => {
  const dir = NodePath.dirname(pattern)
  const base = NodePath.basename(pattern)
  if (!/[*?]/.test(base)) return Effect.promise(() => NodeFs.access(pattern).then(() => [pattern], () => []))
  return Effect.promise(() =>
    NodeFs.readdir(dir).then(
      (names) => names.filter((n) => !n.startsWith(".") && KnownHosts.sshPatternMatches(base, n)).sort().map((n) => NodePath.join(dir, n)),
      () => []
    )
  )
}

/** ssh's answer for a key, or undefined where it is ssh's default (what `ssh -G -F /dev/null` prints). */
const setting = (options: SshOptions, defaults: SshOptions, key: string): ReadonlyArray<string> | undefined => {
  const value = options.get(key)
  if (value === undefined) return undefined
  const fallback = defaults.get(key)
  return fallback !== undefined && fallback.join("\n") === value.join("\n") ? undefined : value
}

const strictOf = (value: ReadonlyArray<string> | undefined): boolean | undefined =>
  value === undefined ? undefined : !["false", "no", "off"].includes(value[0]!.toLowerCase())

/** A ProxyJump value (`[user@]host[:port]` or `ssh://[user@]host[:port]`, comma-separated) as hops. */
const parseJumps = (value: string) =>
  value.split(",").map((hop) => {
    const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop.trim())
    return m === null ? undefined : { user: m[1], host: m[2]!.replace(/^\[(.*)\]$/, "$1"), port: m[3] === undefined ? undefined : Number(m[3]) }
  })

/** @internal */
export const readSshConfig = (path: string): Effect.Effect<ReadonlyArray<SshNodeConfig>, ClusterConfigError> =>
  Effect.gen(function*() {
    const aliases = [...new Set(yield* hostAliases(path))]
    const base = NodePath.dirname(NodePath.resolve(path))
    const defaults = yield* sshG(path, ["-F", "/dev/null", "ducktape-defaults"])
    const resolveList = (v: ReadonlyArray<string> | undefined) => v?.map((p) => resolveFrom(base, p)!)
    /** Hosts named as another's jump host: bastions, not nodes for tests. */
    const jumpHosts = new Set<string>()

    /** The jump hosts of a host: its ProxyJump hops, each read from the file too (a first hop's own ProxyJump first). */
    const jumpsOf = (host: string, value: string | undefined, depth: number): Effect.Effect<ReadonlyArray<JumpConfig> | undefined, ClusterConfigError> =>
      Effect.gen(function*() {
        if (value === undefined || value === "none") return undefined
        if (depth > 8) {
          return yield* Effect.fail(new ClusterConfigError({ source: path, problem: `Host ${host}: its ProxyJump chain loops`, fix: "make the chain end at a host reached directly" }))
        }
        const hops: Array<JumpConfig> = []
        const parsed = parseJumps(value)
        for (let i = 0; i < parsed.length; i++) {
          const hop = parsed[i]
          if (hop === undefined) {
            return yield* Effect.fail(new ClusterConfigError({ source: path, problem: `Host ${host}: cannot read ProxyJump ${JSON.stringify(value)}`, fix: "write ProxyJump [user@]host[:port][,…]" }))
          }
          jumpHosts.add(hop.host)
          const o = yield* sshG(path, ["-F", path, ...(hop.user === undefined ? [] : ["-l", hop.user]), ...(hop.port === undefined ? [] : ["-p", String(hop.port)]), hop.host])
          // As `ssh -J a,b`: the first hop may have its own ProxyJump; later hops are reached through the ones before.
          if (i === 0) hops.push(...((yield* jumpsOf(hop.host, o.get("proxyjump")?.[0], depth + 1)) ?? []))
          hops.push({
            hostname: o.get("hostname")?.[0] ?? hop.host,
            user: o.get("user")?.[0],
            port: Number(o.get("port")?.[0] ?? 22),
            identityFile: resolveList(setting(o, defaults, "identityfile")),
            strictHostKeyChecking: strictOf(setting(o, defaults, "stricthostkeychecking")),
            knownHostsFile: resolveFrom(base, setting(o, defaults, "userknownhostsfile")?.[0]?.split(/\s+/)[0])
          })
        }
        return hops
      })

    const configs = yield* Effect.forEach(aliases, (alias) =>
      Effect.gen(function*() {
        const o = yield* sshG(path, ["-F", path, alias])
        if (o.has("proxycommand")) {
          return yield* Effect.fail(new ClusterConfigError({
            source: path,
            problem: `Host ${alias}: ProxyCommand is not supported (ducktape connects with its own SSH client)`,
            fix: "use ProxyJump [user@]host[:port] for a bastion, or reach the node directly"
          }))
        }
        const hostname = o.get("hostname")?.[0] ?? alias
        const timeout = setting(o, defaults, "connecttimeout")?.[0]
        const proxyJump = yield* jumpsOf(alias, o.get("proxyjump")?.[0], 0)
        return {
          host: alias,
          hostname,
          user: o.get("user")?.[0],
          port: Number(o.get("port")?.[0] ?? 22),
          password: undefined,
          identityFile: resolveList(setting(o, defaults, "identityfile"))?.[0],
          connectTimeoutSeconds: timeout === undefined || timeout === "none" ? undefined : Number(timeout),
          strictHostKeyChecking: strictOf(setting(o, defaults, "stricthostkeychecking")),
          knownHostsFile: resolveFrom(base, setting(o, defaults, "userknownhostsfile")?.[0]?.split(/\s+/)[0]),
          // `vagrant ssh-config` names 127.0.0.1 and a forwarded port for every VM; behind a jump host, loopback is
          // the jump host's, and the node is asked too.
          externallyRoutableIp: isLoopback(hostname) ? undefined : hostname,
          askExternallyRoutableIp: isLoopback(hostname),
          nodeType: undefined,
          workdir: undefined,
          ...(proxyJump === undefined ? {} : { proxyJump })
        } satisfies SshNodeConfig
      }), { concurrency: 8 })
    const bastions = configs.filter((c) => jumpHosts.has(c.host))
    if (bastions.length > 0) {
      yield* Effect.logInfo(`${path}: ${bastions.map((c) => c.host).join(", ")} only serve as ProxyJump hosts, not as nodes`)
    }
    return configs.filter((c) => !jumpHosts.has(c.host))
  })

/** @internal */
export const fromSshConfig = (path: string, options: C.SshSourceOptions = {}) =>
  Layer.scoped(
    Cluster,
    Effect.gen(function*() {
      const configs = yield* readSshConfig(path)
      return yield* connectNodes(path, configs, options, "ssh_config")
    })
  )
