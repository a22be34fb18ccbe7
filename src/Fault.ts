/**
 * Fault injection as scoped effects: partitions, isolation, packet loss, bandwidth limits, paused processes.
 *
 * Every fault is a resource: it is applied when acquired and healed when its Scope closes — whether the scope
 * ends by success, failure, timeout or interruption. A fault that cannot be applied fails at once with a
 * `FaultError` saying why and how to fix it, before the test goes on; what it applied so far is undone first.
 * Healing is idempotent (`fault.heal` heals early; the scope's close then does nothing) and never fails: a rule
 * that could not be removed is logged and left for `ducktape clean`.
 *
 * Network faults run on the nodes themselves, over their accounts, so each node needs its own network stack
 * (a `ducktape lab` host or a real machine), root, iptables and iproute2. Every iptables rule carries the comment
 * `ducktape:<session label>:<fault id>` (the label is the one `Clean` reads, `<session>/<driver host>/<driver
 * pid>`, or `adhoc/…` outside the runner), so healing removes exactly the rules it added and leftovers of a
 * crashed driver can be found. Traffic with the driver (the machine running the tests, seen by each node as its
 * ssh client) is never dropped: healing needs that ssh connection.
 *
 * Inside the runner every fault is recorded in the test's results (`faults`) with when it was applied and
 * healed; the HTML report shows them as a timeline.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Schedule, Scope } from "effect"
import { Schema } from "effect"
import type { ClusterNode } from "./Cluster.js"
import * as bandwidthFaults from "./internal/service/fault/bandwidth.js"
import * as networkFaults from "./internal/service/fault/network.js"
import * as faultPreconditions from "./internal/service/fault/preconditions.js"
import * as processFaults from "./internal/service/fault/processes.js"
import * as faultSchedules from "./internal/service/fault/schedules.js"
import type { Signal } from "./RemoteAccount.js"
import type { RunningService, ServiceError } from "./Service.js"
import { installHint, FaultError } from "./internal/service/errors.js"

export { installHint, FaultError } from "./internal/service/errors.js"

/**
 * An applied fault.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fault {
  /** Unique within this process; the last part of its iptables comment. */
  readonly id: string
  readonly kind: string
  /** What it does, for logs and the report, e.g. `n1 | n2 n3`. */
  readonly description: string
  /** Heals now instead of when the scope closes; healing again (or the scope's close) does nothing more. */
  readonly heal: Effect.Effect<void>
}

/**
 * A paused process set.
 *
 * @since 0.1.0
 * @category models
 */
export interface Paused extends Fault {
  /** The pids (or, with `group`, process groups) that were stopped and will be continued. */
  readonly pids: ReadonlyArray<number>
}

/**
 * A process to act on: a pid, or a pattern matched against full command lines (as `pgrep -f`).
 *
 * @since 0.1.0
 * @category models
 */
export type ProcessTarget = number | string

/**
 * Cuts traffic between groups of nodes, in both directions: a node of one group cannot reach any node of another
 * (iptables DROP on INPUT and OUTPUT by peer address, on every node named). Within a group, and between a node
 * and the driver, traffic flows. Nodes in no group are untouched.
 *
 * @since 0.1.0
 * @category utils
 */
export const partition: (
  groups: ReadonlyArray<ReadonlyArray<ClusterNode>>
) => Effect.Effect<Fault, FaultError, Scope.Scope> = networkFaults.partition

/**
 * Cuts a node off from the other nodes: `from`, or by default every other node of the current `Cluster` (the
 * test's own nodes). The driver can still reach it, so commands, log collection and healing keep working.
 *
 * @since 0.1.0
 * @category guards
 */
export const isolate: (
  node: ClusterNode,
  from?: ReadonlyArray<ClusterNode>
) => Effect.Effect<Fault, FaultError, Scope.Scope> = networkFaults.isolate

/**
 * Options of `packetLoss`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PacketLossOptions {
  /** Drop only traffic with these nodes. Default: all traffic except loopback and the driver's. */
  readonly peers?: ReadonlyArray<ClusterNode>
}

/**
 * Drops each packet the node sends or receives with `probability` (0 < p ≤ 1), independently in each direction
 * (iptables `statistic --mode random`).
 *
 * @since 0.1.0
 * @category utils
 */
export const packetLoss: (
  node: ClusterNode,
  probability: number,
  options?: PacketLossOptions
) => Effect.Effect<Fault, FaultError, Scope.Scope> = networkFaults.packetLoss

/**
 * Limits what the node sends on its interface to `rate`, in tc units (`"1mbit"`, `"500kbit"`, `"10mbps"`), with
 * an htb qdisc (handle `dd7a:`); traffic to the driver is exempt. Only egress is shaped: to slow a link both
 * ways, limit both ends. One limit per interface at a time; an interface with a qdisc configured by someone else
 * is refused rather than overwritten. A marker iptables rule (it changes no traffic) records which session owns the
 * limit, so `ducktape clean` can remove the limit of a crashed session; so this needs iptables too.
 * (`tc netem` delay and jitter are not offered: many kernels lack it.)
 *
 * @since 0.1.0
 * @category utils
 */
export const bandwidth: (node: ClusterNode, rate: string) => Effect.Effect<Fault, FaultError, Scope.Scope> =
  bandwidthFaults.bandwidth

/**
 * Options of `pause` and `kill`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessOptions {
  /** Signal the process group of each pid instead of the process alone (for a pid from `startProcess`). */
  readonly group?: boolean
}

/**
 * Freezes processes with SIGSTOP; they continue (SIGCONT) when the scope closes. A pattern that matches nothing
 * fails.
 *
 * @since 0.1.0
 * @category utils
 */
export const pause: (
  node: ClusterNode,
  target: ProcessTarget,
  options?: ProcessOptions
) => Effect.Effect<Paused, FaultError, Scope.Scope> = processFaults.pause

/**
 * Options of `kill`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KillOptions extends ProcessOptions {
  /** Default KILL. */
  readonly signal?: Signal
  /** Afterwards, restart the node through this service (`restartNode`: stop, then start again). */
  readonly restart?: RunningService<unknown>
}

/**
 * Sends a signal (default KILL) to processes once — not scoped, nothing to heal — and optionally restarts the
 * node through its service. Returns the pids signalled.
 *
 * @since 0.1.0
 * @category utils
 */
export const kill: (
  node: ClusterNode,
  target: ProcessTarget,
  options?: KillOptions
) => Effect.Effect<ReadonlyArray<number>, FaultError | ServiceError> = processFaults.kill

/**
 * Restarts one node of a service (`restartNode`), recorded as a fault in the test's results.
 *
 * @since 0.1.0
 * @category utils
 */
export const bounce: (service: RunningService<unknown>, node: ClusterNode) => Effect.Effect<void, ServiceError> =
  processFaults.bounce

/**
 * Options of `during`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DuringOptions {
  /** How long each fault stays applied before it is healed. */
  readonly hold: Duration.DurationInput
}

/**
 * Faults applied over and over in the background by `during`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Chaos<E> {
  /** How many faults have been applied so far. */
  readonly applied: Effect.Effect<number>
  /**
   * Fails with the error that stopped the loop, if one did (a fault that could not be applied after the first);
   * call it at the end of the test to make such a failure fail the test.
   */
  readonly check: Effect.Effect<void, E>
  /** Stops the loop now and heals the fault in progress (the scope's close does the same). */
  readonly stop: Effect.Effect<void>
}

/**
 * Applies a fault again and again in a background fiber forked in the scope: the first one at once (so a fault
 * that cannot be applied fails here, before the test goes on), held for `hold`, healed, then the next after each
 * delay of `schedule` (`Schedule.spaced("5 seconds")` waits 5 s between faults; `Schedule.fixed` keeps a period).
 * `fault` receives the tick number (0, 1, …) and runs in its own scope, so any scoped fault works, e.g.
 * `(tick) => Effect.flatMap(Fault.randomNode(nodes), (n) => Fault.isolate(n))`. When the scope closes, the loop
 * stops and the fault in progress is healed. A later failure stops the loop, is logged, and is reported by `check`.
 *
 * @since 0.1.0
 * @category utils
 */
export const during: <E, R, Out, R2>(
  schedule: Schedule.Schedule<Out, unknown, R2>,
  fault: (tick: number) => Effect.Effect<unknown, E, R | Scope.Scope>,
  options: DuringOptions
) => Effect.Effect<Chaos<E>, E, Exclude<R, Scope.Scope> | R2 | Scope.Scope> = faultSchedules.during

/**
 * One of the nodes, chosen at random (with Effect's `Random`, so a test can seed it).
 *
 * @since 0.1.0
 * @category utils
 */
export const randomNode: (nodes: ReadonlyArray<ClusterNode>) => Effect.Effect<ClusterNode> = faultSchedules.randomNode

/**
 * Checks, without applying anything, that network faults can be applied on these nodes (own network stack, root,
 * iptables, tc); the result is cached per node, so faults applied later skip the probe.
 *
 * @since 0.1.0
 * @category utils
 */
export const checkNetwork: (nodes: ReadonlyArray<ClusterNode>) => Effect.Effect<void, FaultError> =
  faultPreconditions.checkNetwork


