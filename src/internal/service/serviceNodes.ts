/**
 * The steps of one running service on each of its nodes — start, stop, clean, wait — each run with the service's
 * context, bounded where it runs in a teardown, and failing as a ServiceError that names the service, the node and
 * the phase. A node remembers whether a start was tried on it (then teardown must stop and clean it) and the scope
 * its start opened (closed by its stop, killing the processes the start left attached).
 */
import type { Context } from "effect"
import { Cause, Duration, Effect, Exit, FiberRef, Option, Scope } from "effect"
import type { ClusterNode } from "../../Cluster.js"
import * as Shell from "../../Shell.js"
import type * as S from "../../Service.js"
import { ambientEnv, currentLabel, serviceVariable } from "../remote/remoteAccount.js"
import { errorText } from "../shared/errorText.js"
import * as Release from "../shared/release.js"
import { ServiceError } from "./errors.js"
import type * as JvmLogs from "./jvmLogs.js"
import { pointAtCollected } from "./serviceLogs.js"

/** How long finding and killing what a failed stop left running may take. */
const leftoverTimeout = Duration.seconds(20)
export const defaultWaitTimeout = Duration.minutes(10)

/**
 * Kills (KILL: the stop already failed) every process whose environment carries exactly `mark`, then prints how many
 * it killed and how many are still there a moment later.
 */
const leftoverScript = (mark: string) => {
  const entry = Shell.quote(`${serviceVariable}=${mark}`)
  const find = `for f in $(grep -l -a -s -F ${entry} /proc/[0-9]*/environ); do p=\${f#/proc/}; p=\${p%/environ}; ` +
    `[ "$p" = "$$" ] && continue; tr '\\0' '\\n' < "$f" 2>/dev/null | grep -q -x -F ${entry} && echo "$p"; done`
  return `n=0; for p in $(${find}); do kill -s KILL "$p" 2>/dev/null && n=$((n+1)); done; sleep 0.2; ` +
    `echo "$n $(${find} | grep -c .)"`
}

/** A person-readable reason from whatever a user's step failed with. */
export const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    return errorText(failure.value)
  }
  return Cause.isInterruptedOnly(cause) ? "interrupted" : Cause.pretty(cause)
}

/** One started service, as its node steps need it. */
export interface Instance<Config, R> {
  readonly definition: S.Definition<Config, R>
  readonly id: string
  readonly nodes: ReadonlyArray<ClusterNode>
  readonly logs: Readonly<Record<string, S.LogSpec>>
  readonly registry: Option.Option<S.ServiceRegistry>
  readonly context: Context.Context<R>
  readonly jvm: ReturnType<typeof JvmLogs.forService> | undefined
  readonly stopTimeout: Duration.DurationInput
}

interface NodeState {
  scope: Scope.CloseableScope | undefined
  /** Set once a start was attempted: such a node must be stopped and cleaned at teardown. */
  touched: boolean
}

/** The node steps of `instance`; `self` is the running service they hand to the definition's own steps. */
export const nodeSteps = <Config, R>(instance: Instance<Config, R>, self: () => S.RunningService<Config>) => {
  const { definition, id, nodes, stopTimeout } = instance
  const states = new Map<number, NodeState>(nodes.map((n) => [n.index, { scope: undefined, touched: false }]))
  const stateOf = (node: ClusterNode) => states.get(node.index)!
  const idx = (node: ClusterNode) => nodes.findIndex((n) => n.index === node.index) + 1 || -1
  const who = (node?: ClusterNode) => (node === undefined ? id : `${id} node ${idx(node)} on ${node.name}`)
  const timedOut = (node: ClusterNode, phase: S.ServiceError["phase"], what: string) =>
    new ServiceError({ service: id, node: node.name, phase, reason: `${what} within ${Duration.format(Duration.decode(stopTimeout))}` })

  /** Why a step failed, as a ServiceError; one naming a node's log points at the collected copy. */
  const fail = (node: ClusterNode | undefined, phase: S.ServiceError["phase"]) => (cause: Cause.Cause<unknown>) =>
    new ServiceError({
      service: id,
      ...(node === undefined ? {} : { node: node.name }),
      phase,
      ...(Cause.isInterruptedOnly(cause) ? {} : { cause: Cause.squash(cause) }),
      reason: node === undefined
        ? reasonOf(cause)
        : pointAtCollected(instance.registry, id, instance.logs, node, reasonOf(cause))
    })

  /** Runs one of the definition's steps on a node, with the service's context, logs annotated and traced. */
  const run = <A>(node: ClusterNode, phase: S.ServiceError["phase"], effect: Effect.Effect<A, unknown, R>) =>
    effect.pipe(
      Effect.provide(instance.context),
      Effect.sandbox,
      Effect.mapError(fail(node, phase)),
      Effect.annotateLogs({ service: id, node: node.name }),
      Effect.withSpan(`Service.${phase}Node`, { attributes: { service: id, node: node.name } })
    )

  /** The mark every process a node's start runs carries in `serviceVariable`: `<service id>@<node>@<session>`. */
  const markOf = (node: ClusterNode, label: string | undefined) => `${id}@${node.name}${label === undefined ? "" : `@${label}`}`

  /** Kills what the node's start left running (found by its mark); says what it did, for the stop's error. */
  const stopLeftovers = (node: ClusterNode): Effect.Effect<string> =>
    Effect.gen(function*() {
      const mark = markOf(node, yield* FiberRef.get(currentLabel))
      const r = yield* node.account.exec(leftoverScript(mark), { timeout: leftoverTimeout })
      const [killed = "0", left = "0"] = r.stdout.trim().split(/\s+/)
      if (r.exitCode !== 0 || left !== "0") {
        return `${left} of its processes may still run on ${node.name}: \`ducktape clean\` (with this run's cluster options) stops them`
      }
      return killed === "0" ? "nothing of it was left running" : `killed the ${killed} process${killed === "1" ? "" : "es"} it had left running`
    }).pipe(
      Effect.catchAll((e) =>
        Effect.succeed(`its processes on ${node.name} may still run (${e.message}): \`ducktape clean\` stops them`)
      )
    )

  const stopNode = (node: ClusterNode): Effect.Effect<void, ServiceError> =>
    Effect.gen(function*() {
      const state = stateOf(node)
      if (state.scope === undefined) return
      const scope = state.scope
      state.scope = undefined
      yield* Effect.logInfo(`stopping ${who(node)}`)
      const stopped = definition.stopNode === undefined
        ? Effect.void
        : Release.bounded(run(node, "stop", definition.stopNode(node, self())), stopTimeout, () => timedOut(node, "stop", "did not stop"))
      // The node's scope closes whatever happened to stopNode: processes it started are killed there. Daemons
      // outlive it: after a failed stop, those still carrying this node's mark are killed, and the error says so.
      yield* Effect.ensuring(stopped, Release.bounded(Scope.close(scope, Exit.void), stopTimeout, () => undefined).pipe(Effect.ignore)).pipe(
        Effect.catchAll((e) =>
          Effect.flatMap(stopLeftovers(node), (after) =>
            Effect.fail(
              new ServiceError({ service: e.service, ...(e.node === undefined ? {} : { node: e.node }), phase: e.phase, reason: `${e.reason}; ${after}` })
            ))
        )
      )
    })

  const cleanNode = (node: ClusterNode): Effect.Effect<void, ServiceError> =>
    definition.cleanNode === undefined
      ? Effect.void
      : Release.bounded(run(node, "clean", definition.cleanNode(node, self())), stopTimeout, () => timedOut(node, "clean", "did not finish"))

  const startNode = (node: ClusterNode): Effect.Effect<void, ServiceError> =>
    Effect.gen(function*() {
      const state = stateOf(node)
      if (state.scope !== undefined) return
      state.touched = true
      const scope = yield* Scope.make()
      state.scope = scope
      yield* Effect.logInfo(`starting ${who(node)}`)
      const label = yield* FiberRef.get(currentLabel)
      // Marked, so that what a start left running can be found again when its stop fails (see stopLeftovers).
      const starting = Scope.extend(definition.startNode(node, self()), scope).pipe(
        Effect.locallyWith(ambientEnv, (env) => ({ ...env, [serviceVariable]: markOf(node, label) }))
      )
      yield* run(node, "start", instance.jvm === undefined ? starting : instance.jvm.starting(node, starting))
      yield* Effect.logInfo(`started ${who(node)}`)
    })

  const waitNode = (node: ClusterNode, timeout: Duration.DurationInput = defaultWaitTimeout) =>
    (definition.waitNode === undefined
      ? Effect.void
      : run(node, "wait", definition.waitNode(node, self()))).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new ServiceError({ service: id, node: node.name, phase: "wait", reason: `still running after ${Duration.format(Duration.decode(timeout))}` })
        })
      )

  return {
    idx,
    who,
    fail,
    startNode,
    stopNode,
    cleanNode,
    waitNode,
    /** Marks a node as one a start is being tried on, before anything of the start runs (a pre-start clean, say). */
    touch: (node: ClusterNode) => void (stateOf(node).touched = true),
    /** The nodes a start was tried on: teardown stops and cleans these. */
    touched: () => nodes.filter((n) => stateOf(n).touched)
  }
}

/** @see nodeSteps */
export type NodeSteps = ReturnType<typeof nodeSteps>
