import * as NodeFs from "node:fs/promises"
import { Cause, Data, Duration, Effect, Exit, Fiber, FiberRef, Option, Random, Ref, Schedule, Scope } from "effect"
import * as Clean from "../../Clean.js"
import type { ClusterNode } from "../../Cluster.js"
import { Cluster } from "../../Cluster.js"
import type * as F from "../../Fault.js"
import { FaultError, installHint } from "./errors.js"
import type { CommandError, RemoteAccount, Signal } from "../../RemoteAccount.js"
import type { RunningService, ServiceError } from "../../Service.js"
import * as Shell from "../../Shell.js"
import { isLoopback } from "../cluster/sshNodes.js"
import { recordApplied, recordOneShot } from "./faultLog.js"
import { isProcessId } from "../remote/pid.js"
import { currentLabel } from "../remote/remoteAccount.js"
import * as labels from "../shared/sessionLabels.js"

// ---------------------------------------------------------------------------------------------------------
// Limits and named schedules
// ---------------------------------------------------------------------------------------------------------

/** Each command a fault runs on a node; iptables and tc finish in milliseconds, so this only catches a dead link. */
const commandTimeout = Duration.seconds(20)
/** An upper bound on one heal (all its nodes, with retries): a teardown never hangs on a fault. */
const healTimeout = Duration.seconds(45)
/** A heal that failed (e.g. a connection that dropped) is tried again a few times before it is given up. */
const healRetry = Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

/** The htb qdisc handle that marks a bandwidth limit as ours. */
const qdiscHandle = labels.qdiscHandle

const networkFix = "network faults need nodes with their own network namespace: use `ducktape lab up` or real hosts"

// ---------------------------------------------------------------------------------------------------------
// Ids and labels
// ---------------------------------------------------------------------------------------------------------

let counter = 0
const nextId = () => `f${(++counter).toString(36)}`

/** Characters that survive an iptables comment, iptables-save's quoting and `Clean`'s parsing unchanged. */
const sanitize = (s: string) => s.replace(/[^A-Za-z0-9._/-]/g, "_").slice(0, 200)

/** The session label faults are marked with: the runner's (every test runs under one), else an `adhoc` one. */
const sessionLabel: Effect.Effect<string> = Effect.map(
  FiberRef.get(currentLabel),
  (fromRunner) => sanitize(fromRunner ?? labels.labelFor("adhoc"))
)

/** @internal */
export const commentPrefix = (label: string): string => `ducktape:${sanitize(label)}:`

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

// ---------------------------------------------------------------------------------------------------------
// What a node can do: probed once per node
// ---------------------------------------------------------------------------------------------------------

interface Facts {
  readonly uid: number
  /** The ssh client address as the node sees it: the driver, whose traffic is never dropped. */
  readonly driver: string | undefined
  readonly tools: ReadonlyMap<string, string>
  readonly addresses: ReadonlyArray<{ readonly dev: string; readonly address: string }>
  readonly defaultDev: string | undefined
  /** boot id + network namespace: equal on two nodes (or a node and the driver) means one network stack. */
  readonly stack: string | undefined
}

const tools = ["iptables", "iptables-save", "iptables-restore", "tc"] as const

const probeScript = [
  `PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"`,
  `echo "uid $(id -u)"`,
  `echo "driver \${SSH_CONNECTION%% *}"`,
  `for t in ${tools.join(" ")}; do echo "tool $t $(command -v "$t" 2>/dev/null)"; done`,
  `echo "stack $(cat /proc/sys/kernel/random/boot_id 2>/dev/null)/$(readlink /proc/self/ns/net 2>/dev/null)"`,
  `ip -o -4 addr show 2>/dev/null | while read -r _ dev _ addr _; do echo "addr $dev \${addr%/*}"; done`,
  `ip -o -4 route show default 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/defdev \\1/p' | head -n 1`,
  "true"
].join("\n")

const parseFacts = (out: string): Facts => {
  let uid = -1
  let driver: string | undefined
  let stack: string | undefined
  let defaultDev: string | undefined
  const found = new Map<string, string>()
  const addresses: Array<{ dev: string; address: string }> = []
  for (const line of out.split("\n")) {
    const [key, ...rest] = line.trim().split(/\s+/)
    if (key === "uid" && rest[0] !== undefined) uid = Number(rest[0])
    else if (key === "driver" && rest[0] !== undefined && rest[0] !== "") driver = rest[0]
    else if (key === "tool" && rest[0] !== undefined && rest[1] !== undefined) found.set(rest[0], rest[1])
    else if (key === "stack" && rest[0] !== undefined && /^[^/]+\/net:\[\d+\]$/.test(rest[0])) stack = rest[0]
    else if (key === "addr" && rest[0] !== undefined && rest[1] !== undefined) addresses.push({ dev: rest[0], address: rest[1] })
    else if (key === "defdev" && rest[0] !== undefined) defaultDev = rest[0]
  }
  return { uid, driver, tools: found, addresses, defaultDev, stack }
}

const factsCache = new WeakMap<RemoteAccount, Facts>()

const probe = (kind: string, node: ClusterNode): Effect.Effect<Facts, FaultError> => {
  const cached = factsCache.get(node.account)
  if (cached !== undefined) return Effect.succeed(cached)
  return run(node, probeScript).pipe(
    Effect.map((r) => parseFacts(r.stdout)),
    Effect.tap((facts) => Effect.sync(() => factsCache.set(node.account, facts))),
    Effect.mapError((e) => unreachable(kind, node, e))
  )
}

/** The driver's own network stack, to recognise a node that is this very machine's (a localhost node). */
let driverStackRead: Promise<string | undefined> | undefined
const driverStack: Effect.Effect<string | undefined> = Effect.promise(() =>
  driverStackRead ??= Promise.all([
    NodeFs.readFile("/proc/sys/kernel/random/boot_id", "utf8").then((s) => s.trim(), () => undefined),
    NodeFs.readlink("/proc/self/ns/net").catch(() => undefined)
  ]).then(([boot, net]) => (boot === undefined || net === undefined ? undefined : `${boot}/${net}`))
)

// ---------------------------------------------------------------------------------------------------------
// Running commands and reporting failures
// ---------------------------------------------------------------------------------------------------------

/**
 * Runs a command with a timeout that works even where the caller is uninterruptible (a scope's release): the
 * command itself is made interruptible, so the timeout can stop it.
 */
const run = (node: ClusterNode, command: Shell.Command, stdin?: string) =>
  Effect.interruptible(
    node.account.exec(command, { timeout: commandTimeout, ...(stdin === undefined ? {} : { stdin }) })
  )

/** A heal step failed on a node; it is retried, then logged (a heal never fails its scope). */
class HealFailed extends Data.TaggedError("HealFailed")<{ readonly node: string; readonly reason: string }> {
  override get message(): string {
    return `${this.node}: ${this.reason}`
  }
}

const fault = (kind: string, node: string, reason: string, fix: string) =>
  new FaultError({ fault: kind, node, reason, fix })

const unreachable = (kind: string, node: ClusterNode, e: { readonly message: string }) =>
  new FaultError({
    fault: kind,
    node: node.name,
    reason: `cannot run commands on it: ${e.message}`,
    fix: "check that the node is up and reachable over ssh",
    cause: e
  })

const commandFailed = (kind: string, node: ClusterNode, what: string, stderr: string) =>
  fault(
    kind,
    node.name,
    `${what} failed: ${stderr.trim() === "" ? "no error output" : stderr.trim().split("\n").slice(-5).join("; ")}`,
    `check the node's kernel supports it (iptables comment/statistic matches, tc htb); \`${installHint}\``
  )

const names = (nodes: ReadonlyArray<ClusterNode>) => nodes.map((n) => n.name).join(" ")


const isIpv4 = (address: string) => /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(address)

// ---------------------------------------------------------------------------------------------------------
// Preconditions
// ---------------------------------------------------------------------------------------------------------

const sameNode = (a: ClusterNode, b: ClusterNode) =>
  a.account === b.account ||
  (a.name === b.name && a.account.sshHostname === b.account.sshHostname && a.account.port === b.account.port)

/** Every node must belong to the current cluster (the test's own nodes), when there is one. */
const requireMembers = (kind: string, nodes: ReadonlyArray<ClusterNode>) =>
  Effect.flatMap(Effect.serviceOption(Cluster), (cluster) => {
    if (Option.isNone(cluster)) return Effect.void
    const stranger = nodes.find((n) => !cluster.value.all.some((m) => sameNode(m, n)))
    return stranger === undefined ? Effect.void : Effect.fail(
      fault(
        kind,
        stranger.name,
        `it is not one of this test's nodes (${names(cluster.value.all) || "none"})`,
        "use nodes the test was given: a service's `nodes`, or the `Cluster`'s `all`"
      )
    )
  })

const localhostError = (kind: string, node: ClusterNode, why: string) =>
  fault(kind, node.name, `${why}; localhost nodes share one network stack`, networkFix)

/** Checks one node for network faults: its own network stack, root, and the tools. */
const requireNetworkNode = (kind: string, node: ClusterNode, needs: ReadonlyArray<(typeof tools)[number]>) =>
  Effect.gen(function*() {
    const address = node.account.externallyRoutableIp
    if (isLoopback(address)) {
      return yield* Effect.fail(localhostError(kind, node, `its address ${address} is a loopback address`))
    }
    const facts = yield* probe(kind, node)
    const driver = yield* driverStack
    if (facts.stack !== undefined && facts.stack === driver) {
      return yield* Effect.fail(localhostError(kind, node, "it runs in the network stack of the machine running the tests"))
    }
    if (facts.uid !== 0) {
      return yield* Effect.fail(
        fault(
          kind,
          node.name,
          `it runs commands as ${node.account.user} (uid ${facts.uid < 0 ? "unknown" : facts.uid}); iptables and tc need root`,
          "connect to the node as root (\"user\": \"root\" in the cluster file's ssh_config)"
        )
      )
    }
    const missing = needs.filter((t) => !facts.tools.has(t))
    if (missing.length > 0) {
      return yield* Effect.fail(
        fault(kind, node.name, `${missing.map((t) => `\`${t}\``).join(", ")} not found on the node`, `on the node: ${installHint}`)
      )
    }
    return facts
  })

const requireNetwork = (
  kind: string,
  nodes: ReadonlyArray<ClusterNode>,
  needs: ReadonlyArray<(typeof tools)[number]>
): Effect.Effect<ReadonlyArray<Facts>, FaultError> =>
  Effect.gen(function*() {
    const facts = yield* Effect.forEach(nodes, (n) => requireNetworkNode(kind, n, needs), { concurrency: "unbounded" })
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const a = facts[i]!.stack
        if (a !== undefined && a === facts[j]!.stack) {
          return yield* Effect.fail(
            fault(kind, `${nodes[i]!.name} and ${nodes[j]!.name}`, "the two nodes share one network stack", networkFix)
          )
        }
      }
    }
    return facts
  })

/** Checks that network faults can be applied on the nodes (cached per node). */
export const checkNetwork = (nodes: ReadonlyArray<ClusterNode>): Effect.Effect<void, FaultError> =>
  Effect.asVoid(requireNetwork("network fault", nodes, tools))

/** The peer's address as `on` sees it: an IPv4 literal as is, a name resolved on the node itself. */
const peerAddress = (kind: string, on: ClusterNode, peer: ClusterNode): Effect.Effect<string, FaultError> => {
  const address = peer.account.externallyRoutableIp
  if (isIpv4(address)) return Effect.succeed(address)
  return run(on, ["getent", "ahostsv4", address]).pipe(
    Effect.mapError((e) => unreachable(kind, on, e)),
    Effect.flatMap((r) => {
      const resolved = r.stdout.trim().split(/\s+/)[0]
      return resolved !== undefined && isIpv4(resolved) ? Effect.succeed(resolved) : Effect.fail(
        fault(
          kind,
          on.name,
          `the address of ${peer.name}, ${JSON.stringify(address)}, does not resolve to an IPv4 address there`,
          "set externally_routable_ip of each node to its IPv4 address in the cluster file"
        )
      )
    })
  )
}

// ---------------------------------------------------------------------------------------------------------
// A fault as a scoped resource
// ---------------------------------------------------------------------------------------------------------

interface Spec<A> {
  readonly kind: string
  readonly id: string
  /** For the report: which nodes (`n1 | n2 n3`), and what was done. */
  readonly target: string
  readonly detail: string
  /** Does the work; interruptible. On failure or interruption `heal` runs at once. */
  readonly apply: Effect.Effect<A, FaultError>
  /** Undoes what `apply` did, whatever part of it ran; safe to run when nothing was applied. */
  readonly heal: Effect.Effect<void, HealFailed | CommandError>
}

/**
 * Runs `effect` to its end even when the calling fiber is interrupted meanwhile, in a fiber of its own that nothing
 * but the effect's own time limits can interrupt. A heal usually runs in a scope's release, and an interruption
 * that lands while it runs — a test's timeout or Ctrl-C right as its scope closes, a `during` loop stopped while a
 * tick heals — would otherwise cut it short: the release's interruptible region (needed for the time limit) lets
 * that interruption in, and the fault stayed applied.
 */
const toCompletion = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.uninterruptible(Effect.flatMap(Effect.forkDaemon(Effect.interruptible(effect)), Fiber.join))

/**
 * Registers the heal before applying, so that no way out of the scope (nor out of a half-done apply) leaves the
 * fault in place. The heal runs once to success, to its end whatever interrupts its caller; it is bounded by
 * `healTimeout` and only logs when it fails.
 */
const scoped = <A extends object>(spec: Spec<A>): Effect.Effect<F.Fault & A, FaultError, Scope.Scope> =>
  Effect.gen(function*() {
    const lock = yield* Effect.makeSemaphore(1)
    let healed = false
    let markHealed: Effect.Effect<void> = Effect.void
    const heal = lock.withPermits(1)(Effect.suspend(() =>
      healed ? Effect.void : toCompletion(Effect.retry(spec.heal, healRetry).pipe(Effect.timeout(healTimeout))).pipe(
        Effect.matchCauseEffect({
          onSuccess: () =>
            Effect.zipRight(
              Effect.sync(() => {
                healed = true
              }),
              markHealed
            ),
          onFailure: (cause) =>
            Effect.logWarning(
              `could not heal ${spec.kind} ${spec.target} (fault ${spec.id}); \`ducktape clean\` removes what is left`,
              cause
            )
        })
      )
    ))
    yield* Effect.addFinalizer(() => heal)
    const extra = yield* spec.apply.pipe(Effect.onError(() => heal))
    markHealed = yield* recordApplied(spec.kind, spec.target, spec.detail)
    yield* Effect.logDebug(`applied ${spec.kind} ${spec.target}: ${spec.detail}`)
    const applied: F.Fault = { id: spec.id, kind: spec.kind, description: spec.target, heal }
    return { ...extra, ...applied }
  }).pipe(Effect.annotateLogs({ fault: spec.kind, faultId: spec.id }))

// ---------------------------------------------------------------------------------------------------------
// iptables
// ---------------------------------------------------------------------------------------------------------

const tool = (facts: Facts, name: (typeof tools)[number]) => facts.tools.get(name) ?? name

/** Adds rules in one atomic `iptables-restore` (inserted first, ahead of any ACCEPT a node may have). */
const addRules = (kind: string, node: ClusterNode, facts: Facts, rules: ReadonlyArray<string>) =>
  run(node, [tool(facts, "iptables-restore"), "-w", "5", "--noflush"], `*filter\n${rules.join("\n")}\nCOMMIT\n`).pipe(
    Effect.mapError((e) => unreachable(kind, node, e)),
    Effect.flatMap((r) => (r.exitCode === 0 ? Effect.void : Effect.fail(commandFailed(kind, node, "iptables-restore", r.stderr))))
  )

/** Deletes every rule carrying exactly this comment, however many of them an apply got to add. */
const removeRules = (node: ClusterNode, facts: Facts, comment: string) => {
  const pattern = `--comment "?${escapeRegex(comment)}"?( |$)`
  const line = `rules=$(${Shell.quote(tool(facts, "iptables-save"))} -t filter | grep -E -e ${Shell.quote(pattern)} | ` +
    `sed 's/^-A /-D /'); if [ -n "$rules" ]; then printf '*filter\\n%s\\nCOMMIT\\n' "$rules" | ` +
    `${Shell.quote(tool(facts, "iptables-restore"))} -w 5 --noflush; fi`
  return Effect.flatMap(run(node, line), (r) =>
    r.exitCode === 0 ? Effect.void : Effect.fail(new HealFailed({ node: node.name, reason: `removing rules failed: ${r.stderr.trim()}` })))
}

const commentFor = (label: string, id: string) => `${commentPrefix(label)}${id}`

const withComment = (comment: string) => `-m comment --comment ${comment}`

/** A fault made of iptables rules on some nodes, healed by deleting the rules carrying its comment. */
const iptablesFault = (
  kind: string,
  target: string,
  detail: string,
  id: string,
  comment: string,
  perNode: ReadonlyArray<{ readonly node: ClusterNode; readonly facts: Facts; readonly rules: ReadonlyArray<string> }>
) =>
  scoped({
    kind,
    id,
    target,
    detail,
    apply: Effect.forEach(perNode, ({ facts, node, rules }) => addRules(kind, node, facts, rules), {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.as({})),
    heal: Effect.forEach(perNode, ({ facts, node }) => removeRules(node, facts, comment), {
      concurrency: "unbounded",
      discard: true
    })
  })

// ---------------------------------------------------------------------------------------------------------
// Network faults
// ---------------------------------------------------------------------------------------------------------

const dropBetween = (kind: string, groups: ReadonlyArray<ReadonlyArray<ClusterNode>>, target: string) =>
  Effect.gen(function*() {
    const nonEmpty = groups.filter((g) => g.length > 0)
    const all = nonEmpty.flat()
    if (nonEmpty.length < 2) {
      return yield* Effect.fail(
        fault(kind, names(all) || "no nodes", "a partition needs at least two non-empty groups", "pass e.g. [[n1], [n2, n3]]")
      )
    }
    const twice = all.find((n, i) => all.findIndex((m) => sameNode(m, n)) !== i)
    if (twice !== undefined) {
      return yield* Effect.fail(
        fault(kind, twice.name, "the node is in more than one group", "put each node in one group only")
      )
    }
    yield* requireMembers(kind, all)
    const facts = yield* requireNetwork(kind, all, ["iptables-save", "iptables-restore"])
    const label = yield* sessionLabel
    const id = nextId()
    const comment = commentFor(label, id)
    const perNode = yield* Effect.forEach(all, (node, i) =>
      Effect.gen(function*() {
        const own = facts[i]!
        const peers = nonEmpty.filter((g) => !g.some((m) => sameNode(m, node))).flat()
        const addresses = yield* Effect.forEach(peers, (p) => peerAddress(kind, node, p))
        const driverPeer = addresses.findIndex((a) => a === own.driver)
        if (driverPeer >= 0) {
          return yield* Effect.fail(
            fault(
              kind,
              node.name,
              `${peers[driverPeer]!.name} (${addresses[driverPeer]}) is the machine running the tests; cutting it off ` +
                "would cut the ssh connection the fault is healed through",
              "run the tests from a machine outside the cluster, or leave that node out of the fault"
            )
          )
        }
        const rules = [...new Set(addresses)].flatMap((a) => [
          `-I INPUT -s ${a}/32 ${withComment(comment)} -j DROP`,
          `-I OUTPUT -d ${a}/32 ${withComment(comment)} -j DROP`
        ])
        return { node, facts: own, rules }
      }), { concurrency: "unbounded" })
    return yield* iptablesFault(kind, target, "iptables DROP both ways between the groups", id, comment, perNode)
  })

/** @internal */
export const partition = (groups: ReadonlyArray<ReadonlyArray<ClusterNode>>) =>
  dropBetween("partition", groups, groups.filter((g) => g.length > 0).map(names).join(" | "))

/** @internal */
export const isolate = (node: ClusterNode, from?: ReadonlyArray<ClusterNode>) =>
  Effect.gen(function*() {
    const peers = from !== undefined
      ? from.filter((n) => !sameNode(n, node))
      : yield* Effect.flatMap(Effect.serviceOption(Cluster), (cluster) =>
        Option.isSome(cluster)
          ? Effect.succeed(cluster.value.all.filter((n) => !sameNode(n, node)))
          : Effect.fail(
            fault("isolate", node.name, "there is no cluster to isolate it from", "pass the nodes to cut it off from as `from`")
          ))
    if (peers.length === 0) {
      return yield* Effect.fail(fault("isolate", node.name, "there are no other nodes to isolate it from", "pass `from`"))
    }
    return yield* dropBetween("isolate", [[node], peers], `${node.name} | ${names(peers)}`)
  })

/** iptables' `--probability` takes a plain decimal. */
const formatProbability = (p: number) => p.toFixed(8).replace(/0+$/, "").replace(/\.$/, "")

/** @internal */
export const packetLoss = (node: ClusterNode, probability: number, options: F.PacketLossOptions = {}) =>
  Effect.gen(function*() {
    const kind = "packet-loss"
    if (!Number.isFinite(probability) || probability <= 0 || probability > 1) {
      return yield* Effect.fail(
        fault(kind, node.name, `the probability must be in (0, 1], got ${probability}`, "pass e.g. 0.1 for 10% loss")
      )
    }
    const peers = (options.peers ?? []).filter((n) => !sameNode(n, node))
    yield* requireMembers(kind, [node, ...peers])
    const [facts] = yield* requireNetwork(kind, [node], ["iptables-save", "iptables-restore"])
    const own = facts!
    const label = yield* sessionLabel
    const id = nextId()
    const comment = commentFor(label, id)
    const chance = `-m statistic --mode random --probability ${formatProbability(probability)}`
    let rules: Array<string>
    if (options.peers === undefined) {
      // Loopback and the driver are spared: the node's own services keep talking to themselves, and commands
      // (healing among them) keep working.
      const notDriver = (flag: "-s" | "-d") => (own.driver === undefined ? "" : ` ! ${flag} ${own.driver}/32`)
      rules = [
        `-I INPUT ! -i lo${notDriver("-s")} ${chance} ${withComment(comment)} -j DROP`,
        `-I OUTPUT ! -o lo${notDriver("-d")} ${chance} ${withComment(comment)} -j DROP`
      ]
    } else {
      const addresses = yield* Effect.forEach(peers, (p) => peerAddress(kind, node, p))
      const own4 = new Set(own.addresses.map((a) => a.address))
      const shared = addresses.findIndex((a) => own4.has(a))
      if (shared >= 0) {
        return yield* Effect.fail(
          fault(kind, `${node.name} and ${peers[shared]!.name}`, "the two nodes share one network stack", networkFix)
        )
      }
      rules = [...new Set(addresses)].filter((a) => a !== own.driver).flatMap((a) => [
        `-I INPUT -s ${a}/32 ${chance} ${withComment(comment)} -j DROP`,
        `-I OUTPUT -d ${a}/32 ${chance} ${withComment(comment)} -j DROP`
      ])
    }
    const target = options.peers === undefined ? node.name : `${node.name} ↔ ${names(peers)}`
    const detail = `iptables random DROP, p=${formatProbability(probability)} each way`
    return yield* iptablesFault(kind, target, detail, id, comment, [{ node, facts: own, rules }])
  })

// ---------------------------------------------------------------------------------------------------------
// Bandwidth
// ---------------------------------------------------------------------------------------------------------

const ratePattern = /^\d+(\.\d+)?(bit|kbit|mbit|gbit|tbit|bps|kbps|mbps|gbps|tbps)$/i

/** Exit codes of the apply script that mean "refused", not "failed". */
const busyExit = 3
const foreignExit = 4

/** @internal */
export const bandwidth = (node: ClusterNode, rate: string) =>
  Effect.gen(function*() {
    const kind = "bandwidth"
    if (!ratePattern.test(rate)) {
      return yield* Effect.fail(
        fault(kind, node.name, `${JSON.stringify(rate)} is not a tc rate`, "write it as tc does: \"1mbit\", \"500kbit\", \"10mbps\"")
      )
    }
    yield* requireMembers(kind, [node])
    const [facts] = yield* requireNetwork(kind, [node], ["tc", "iptables-save", "iptables-restore"])
    const own = facts!
    const dev = own.addresses.find((a) => a.address === node.account.externallyRoutableIp)?.dev ?? own.defaultDev
    if (dev === undefined) {
      return yield* Effect.fail(
        fault(
          kind,
          node.name,
          `no interface holds its address ${node.account.externallyRoutableIp} and there is no default route`,
          "set externally_routable_ip to an address of the node's interface"
        )
      )
    }
    const tc = Shell.quote(tool(own, "tc"))
    const d = Shell.quote(dev)
    const h = qdiscHandle
    const exempt = own.driver === undefined ? [] : [
      `${tc} class add dev ${d} parent ${h} classid ${h}2 htb rate 10gbit quantum 1514`,
      `${tc} filter add dev ${d} parent ${h} protocol ip prio 1 u32 match ip dst ${own.driver}/32 flowid ${h}2`
    ]
    const apply = [
      `cur=$(${tc} qdisc show dev ${d} root)`,
      // Only a default root qdisc (handle 0:) is replaced: a configured one belongs to someone else.
      `case "$cur" in *" ${h} "*) echo "$cur" >&2; exit ${busyExit};; "qdisc "*" 0: "*|"") ;; *) echo "$cur" >&2; exit ${foreignExit};; esac`,
      [
        `${tc} qdisc replace dev ${d} root handle ${h} htb default 1`,
        `${tc} class add dev ${d} parent ${h} classid ${h}1 htb rate ${rate} quantum 1514`,
        ...exempt
      ].join(" && ")
    ].join("\n")
    // A qdisc carries no comment: a marker rule (no target, so it changes nothing) records the session that owns
    // the limit, added before the qdisc and removed after it, so that `ducktape clean` can remove the limit of a
    // driver that crashed. An interface name that a comment cannot hold gets no marker.
    const id = nextId()
    const label = yield* sessionLabel
    const marker = sanitize(dev) === dev ? `${commentFor(label, id)}${labels.qdiscMarker(dev)}` : undefined
    // Whether the qdisc may be ours: set just before the script runs, so an interrupted apply is still undone, and
    // cleared when the script refused (then the qdisc there is another fault's or someone else's).
    let mine = false
    const refused = (code: number, stderr: string) =>
      code === busyExit
        ? fault(
          kind,
          node.name,
          `${dev} already has a bandwidth limit from another fault`,
          "heal that fault first (close its scope); a limit left by a crashed run is removed by `ducktape clean`"
        )
        : fault(
          kind,
          node.name,
          `${dev} has a qdisc configured by someone else (${stderr.trim()})`,
          `remove it (\`tc qdisc del dev ${dev} root\`) if it is not needed`
        )
    const addMarker = marker === undefined
      ? Effect.void
      : addRules(kind, node, own, [`-A OUTPUT -o ${dev} ${withComment(marker)}`])
    return yield* scoped({
      kind,
      id,
      target: node.name,
      detail: `egress of ${dev} limited to ${rate} (tc htb)`,
      apply: Effect.zipRight(addMarker, Effect.suspend(() => {
        mine = true
        return run(node, apply)
      })).pipe(
        Effect.mapError((e) => (e._tag === "FaultError" ? e : unreachable(kind, node, e))),
        Effect.flatMap((r) => {
          if (r.exitCode === 0) return Effect.succeed({})
          if (r.exitCode === busyExit || r.exitCode === foreignExit) {
            mine = false
            return Effect.fail(refused(r.exitCode, r.stderr))
          }
          return Effect.fail(commandFailed(kind, node, "tc", r.stderr))
        })
      ),
      heal: Effect.zipRight(
        Effect.suspend(() =>
          mine
            ? Effect.flatMap(
              run(node, `if ${tc} qdisc show dev ${d} root | grep -q ' ${h} '; then ${tc} qdisc del dev ${d} root; fi`),
              (r) => (r.exitCode === 0 ? Effect.void : Effect.fail(new HealFailed({ node: node.name, reason: `tc: ${r.stderr.trim()}` })))
            )
            : Effect.void
        ),
        marker === undefined ? Effect.void : removeRules(node, own, marker)
      )
    })
  })

// ---------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------

const describeTarget = (target: F.ProcessTarget, group: boolean) =>
  typeof target === "number" ? `${group ? "process group" : "pid"} ${target}` : `processes matching ${JSON.stringify(target)}`

const resolveTarget = (kind: string, node: ClusterNode, target: F.ProcessTarget): Effect.Effect<ReadonlyArray<number>, FaultError> => {
  if (typeof target === "number") {
    return isProcessId(target)
      ? Effect.succeed([target])
      : Effect.fail(fault(kind, node.name, `${target} is not a process id`, "pass a pid (e.g. a RemoteProcess's `pid`) or a pattern"))
  }
  return node.account.pids(target).pipe(
    Effect.mapError((e) => unreachable(kind, node, e)),
    Effect.flatMap((pids) =>
      pids.length > 0 ? Effect.succeed(pids) : Effect.fail(
        fault(kind, node.name, `no process matches ${JSON.stringify(target)}`, "check the pattern: it is matched against full command lines, as `pgrep -f` does")
      )
    )
  )
}

/** Signals each pid; returns those it reached. A process that exited meanwhile is skipped. */
const signalEach = (node: ClusterNode, signal: Signal, pids: ReadonlyArray<number>, group: boolean) => {
  // Never 0 or 1 (a pattern can match init): `kill -- -1` would reach every process on the node.
  const targets = pids.filter(isProcessId).map((p) => (group ? `-${p}` : String(p)))
  const line = `for p in ${targets.map(Shell.quote).join(" ")}; do kill -s ${signal} -- "$p" 2>/dev/null && echo "$p"; done; true`
  return Effect.map(run(node, line), (r) =>
    r.stdout.split("\n").filter((l) => /^-?\d+$/.test(l)).map((l) => Math.abs(Number(l))))
}

/** @internal */
export const pause = (node: ClusterNode, target: F.ProcessTarget, options: F.ProcessOptions = {}) =>
  Effect.gen(function*() {
    const kind = "pause"
    const group = options.group === true
    yield* requireMembers(kind, [node])
    const pids = yield* resolveTarget(kind, node, target)
    // Every candidate gets a SIGCONT on heal, also those the STOP may have reached before an interruption.
    const cont = signalEach(node, "CONT", pids, group)
    return yield* scoped({
      kind,
      id: nextId(),
      target: node.name,
      detail: `SIGSTOP ${describeTarget(target, group)}`,
      apply: signalEach(node, "STOP", pids, group).pipe(
        Effect.mapError((e) => unreachable(kind, node, e)),
        Effect.flatMap((stopped) =>
          stopped.length > 0 ? Effect.succeed({ pids: stopped }) : Effect.fail(
            fault(kind, node.name, `${describeTarget(target, group)}: no such process (it may have exited)`, "pause a running process")
          )
        )
      ),
      heal: Effect.asVoid(cont)
    })
  })

/** @internal */
export const kill = (
  node: ClusterNode,
  target: F.ProcessTarget,
  options: F.KillOptions = {}
): Effect.Effect<ReadonlyArray<number>, FaultError | ServiceError> =>
  Effect.gen(function*() {
    const kind = "kill"
    const group = options.group === true
    const signal = options.signal ?? "KILL"
    yield* requireMembers(kind, [node])
    const pids = yield* resolveTarget(kind, node, target)
    const signalled = yield* signalEach(node, signal, pids, group).pipe(Effect.mapError((e) => unreachable(kind, node, e)))
    if (signalled.length === 0) {
      return yield* Effect.fail(
        fault(kind, node.name, `${describeTarget(target, group)}: no such process (it may have exited)`, "signal a running process")
      )
    }
    const restart = options.restart
    const done = yield* recordOneShot(
      kind,
      node.name,
      `SIG${signal} ${describeTarget(target, group)}${restart === undefined ? "" : `, then restart ${restart.who(node)}`}`
    )
    if (restart === undefined) yield* done("not restarted")
    else yield* restartRecorded(restart.restartNode(node), done)
    return signalled
  }).pipe(Effect.withSpan("Fault.kill", { attributes: { node: node.name } }))

/** Runs a restart and records how it went. */
const restartRecorded = <E>(
  restart: Effect.Effect<void, E>,
  done: (outcome: "restarted" | "restart failed") => Effect.Effect<void>
) => Effect.zipRight(restart.pipe(Effect.tapError(() => done("restart failed"))), done("restarted"))

/** @internal */
export const bounce = (service: RunningService<unknown>, node: ClusterNode): Effect.Effect<void, ServiceError> =>
  Effect.gen(function*() {
    const done = yield* recordOneShot("bounce", node.name, `restart ${service.who(node)}`)
    yield* restartRecorded(service.restartNode(node), done)
  }).pipe(Effect.withSpan("Fault.bounce", { attributes: { node: node.name, service: service.id } }))

// ---------------------------------------------------------------------------------------------------------
// Schedules of faults
// ---------------------------------------------------------------------------------------------------------

/** @internal */
export const during = <E, R, Out, R2>(
  schedule: Schedule.Schedule<Out, unknown, R2>,
  faultAt: (tick: number) => Effect.Effect<unknown, E, R | Scope.Scope>,
  options: F.DuringOptions
): Effect.Effect<F.Chaos<E>, E, Exclude<R, Scope.Scope> | R2 | Scope.Scope> =>
  Effect.gen(function*() {
    const applied = yield* Ref.make(0)
    const failure = yield* Ref.make<Option.Option<Cause.Cause<E>>>(Option.none())
    const ticks = yield* Ref.make(1)

    // The first fault is applied here, so that one that cannot be applied fails the caller.
    const first = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(first, Exit.void))
    yield* faultAt(0).pipe(
      Scope.extend(first),
      Effect.onError((cause) => Scope.close(first, Exit.failCause(cause)))
    )
    yield* Ref.update(applied, (n) => n + 1)

    const tick = Effect.flatMap(Ref.getAndUpdate(ticks, (n) => n + 1), (n) =>
      Effect.scoped(
        Effect.gen(function*() {
          yield* faultAt(n)
          yield* Ref.update(applied, (k) => k + 1)
          yield* Effect.sleep(options.hold)
        })
      ))
    const loop = Effect.sleep(options.hold).pipe(
      Effect.zipRight(Scope.close(first, Exit.void)),
      Effect.zipRight(Effect.schedule(tick, schedule)),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Effect.zipRight(
          Ref.set(failure, Option.some(cause)),
          Effect.logWarning("a scheduled fault failed; no more faults are applied", cause)
        )
      )
    )
    const fiber = yield* Effect.forkScoped(loop)
    return {
      applied: Ref.get(applied),
      check: Effect.flatMap(Ref.get(failure), Option.match({ onNone: () => Effect.void, onSome: Effect.failCause })),
      stop: Effect.zipRight(Fiber.interrupt(fiber), Scope.close(first, Exit.void))
    } satisfies F.Chaos<E>
  })

/** @internal */
export const randomNode = (nodes: ReadonlyArray<ClusterNode>): Effect.Effect<ClusterNode> =>
  nodes.length === 0
    ? Effect.dieMessage("Fault.randomNode: no nodes to choose from")
    : Effect.map(Random.nextIntBetween(0, nodes.length), (i) => nodes[i]!)
