/** Process faults: pause (SIGSTOP until healed), kill, a service's bounce. */
import { Effect } from "effect"
import type { ClusterNode } from "../../../Cluster.js"
import type * as F from "../../../Fault.js"
import { FaultError } from "../errors.js"
import type { Signal } from "../../../RemoteAccount.js"
import type { RunningService, ServiceError } from "../../../Service.js"
import * as Shell from "../../../Shell.js"
import { recordOneShot } from "../faultLog.js"
import { isProcessId } from "../../remote/pid.js"
import { fault, run, unreachable } from "./commands.js"
import { nextId } from "./limitsAndIds.js"
import { requireMembers } from "./preconditions.js"
import { scoped } from "./scopedFault.js"

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
