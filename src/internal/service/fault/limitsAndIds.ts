/**
 * Faults' time limits and retry schedules, their ids, and the labels their rules carry on a node (found again by
 * `ducktape clean`).
 */
import { Duration, Effect, FiberRef, Schedule } from "effect"
import { currentLabel } from "../../remote/remoteAccount.js"
import * as labels from "../../shared/sessionLabels.js"

/** Each command a fault runs on a node; iptables and tc finish in milliseconds, so this only catches a dead link. */
export const commandTimeout = Duration.seconds(20)
/** An upper bound on one heal (all its nodes, with retries): a teardown never hangs on a fault. */
export const healTimeout = Duration.seconds(45)
/** A heal that failed (e.g. a connection that dropped) is tried again a few times before it is given up. */
export const healRetry = Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

/** The htb qdisc handle that marks a bandwidth limit as ours. */
export const qdiscHandle = labels.qdiscHandle

export const networkFix = "network faults need nodes with their own network namespace: use `ducktape lab up` or real hosts"

let counter = 0
export const nextId = () => `f${(++counter).toString(36)}`

/** Characters that survive an iptables comment, iptables-save's quoting and `Clean`'s parsing unchanged. */
export const sanitize = (s: string) => s.replace(/[^A-Za-z0-9._/-]/g, "_").slice(0, 200)

/** The session label faults are marked with: the runner's (every test runs under one), else an `adhoc` one. */
export const sessionLabel: Effect.Effect<string> = Effect.map(
  FiberRef.get(currentLabel),
  (fromRunner) => sanitize(fromRunner ?? labels.labelFor("adhoc"))
)

/** @internal */
export const commentPrefix = (label: string): string => `ducktape:${sanitize(label)}:`

export const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
