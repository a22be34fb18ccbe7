import * as NodePath from "node:path"
import { Cause, Context, Duration, Effect, Exit, Fiber, FiberRef, Layer, Option, Scope } from "effect"
import type { ClusterNode } from "../../Cluster.js"
import { Cluster } from "../../Cluster.js"
import * as Provision from "../../Provision.js"
import * as Release from "../shared/release.js"
import { ambientEnv, currentLabel, serviceVariable } from "../remote/remoteAccount.js"
import * as Shell from "../../Shell.js"
import type * as S from "../../Service.js"
import { ServiceRegistry } from "./registry.js"
import { ServiceError } from "./errors.js"
import { errorText } from "../shared/errorText.js"
import * as JvmLogs from "./jvmLogs.js"

const defaultStopTimeout = Duration.seconds(60)
/** How long finding and killing what a failed stop left running may take. */
const leftoverTimeout = Duration.seconds(20)

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
const defaultWaitTimeout = Duration.minutes(10)

/** A person-readable reason from whatever a user's step failed with. */
const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    return errorText(failure.value)
  }
  return Cause.isInterruptedOnly(cause) ? "interrupted" : Cause.pretty(cause)
}

/**
 * The file name a collected log gets: its own, unless another one collected has the same (logs/out.log,
 * data/out.log): then its name in `logs` goes first, so neither overwrites the other.
 */
const collectedName = (logs: Readonly<Record<string, S.LogSpec>>, name: string, path: string) => {
  const base = NodePath.posix.basename(path)
  const shared = Object.values(logs).filter((other) => NodePath.posix.basename(other.path) === base).length > 1
  return shared ? `${name}.${base}` : base
}

/** A local path as a person at the terminal would type it: relative to the working directory when under it. */
const displayPath = (path: string) => {
  const relative = NodePath.relative(process.cwd(), path)
  return relative === "" || relative.startsWith("..") || NodePath.isAbsolute(relative) ? path : relative
}

/** Services started without a registry still get unique ids. */
let orphanCounter = 0

/** @internal */
export const makeRegistry = (
  logsDir: string,
  options: { readonly noTeardown?: boolean; readonly jvmLogs?: boolean } = {}
): S.ServiceRegistry => {
  const counts = new Map<string, number>()
  return {
    logsDir,
    noTeardown: options.noTeardown === true,
    jvmLogs: options.jvmLogs === true,
    records: [],
    collect: new Map(),
    nextOrder: (name) => {
      const next = (counts.get(name) ?? 0) + 1
      counts.set(name, next)
      return next
    }
  }
}

/** @internal */
export const markForCollect = (value: boolean) => (service: { readonly id: string }, logName?: string) =>
  Effect.serviceOption(ServiceRegistry).pipe(
    Effect.map(Option.map((r) => r.collect.set(logName === undefined ? service.id : `${service.id}/${logName}`, value)))
  )

/** The placeholder `Service.required` puts where a config field has no default. */
class Required {
  constructor(readonly hint: string | undefined) {}
}

/** @internal */
export const required = <A>(hint?: string): A => new Required(hint) as A

/** The fields of a config still holding `Service.required`'s placeholder. */
const missingFields = (config: object): ReadonlyArray<{ readonly field: string; readonly hint: string | undefined }> =>
  Object.entries(config).flatMap(([field, value]) => (value instanceof Required ? [{ field, hint: value.hint }] : []))

interface NodeState {
  scope: Scope.CloseableScope | undefined
  /** Set once a start was attempted: such a node must be stopped and cleaned at teardown. */
  touched: boolean
}

let definitions = 0

/** @internal */
export const make = <Config, R>(definition: S.Definition<Config, R>): S.Service<Config, R> => {
  // Each definition is its own service to Effect: two definitions that share a name (two test files' "kafka")
  // must not answer for each other, so the key carries a number of this definition alone.
  const tag = Context.GenericTag<S.RunningService<Config>>(`ducktape-effect/Service/${definition.name}#${++definitions}`)
  const stopTimeout = definition.stopTimeout ?? defaultStopTimeout

  const start = (options: S.StartOptions<Config> = {}) =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const registry = yield* Effect.serviceOption(ServiceRegistry)
      const context = yield* Effect.context<R>()
      const order = Option.match(registry, { onNone: () => ++orphanCounter, onSome: (r) => r.nextOrder(definition.name) })
      const id = `${definition.name}-${order}`
      // --enable-jvm-logs: every JVM the service starts logs its GC and dumps its heap on OOM, collected like its logs.
      const jvm = Option.isSome(registry) && registry.value.jvmLogs ? JvmLogs.forService(id) : undefined
      const logs: Readonly<Record<string, S.LogSpec>> = { ...definition.logs, ...jvm?.logs }
      const spec = options.spec ?? (options.numNodes !== undefined ? options.numNodes : undefined) ??
        definition.spec ?? definition.numNodes ?? 1

      const config = { ...definition.config, ...options.config } as Config
      const missing = missingFields(config as object)
      if (missing.length > 0) {
        return yield* Effect.fail(
          new ServiceError({
            service: definition.name,
            phase: "config",
            reason: missing.map(({ field, hint }) => `config.${field} is required${hint === undefined ? "" : ` (${hint})`}`).join("; ") +
              `: start it with { config: { ${missing.map((m) => `${m.field}: …`).join(", ")} } }`
          })
        )
      }

      if (options.nodes !== undefined && (options.nodes.length === 0 || options.numNodes !== undefined || options.spec !== undefined)) {
        const reason = options.nodes.length === 0
          ? "start({ nodes }) was given no nodes"
          : "start() was given nodes and also numNodes or spec: give the nodes, or how many to take, not both"
        return yield* Effect.fail(new ServiceError({ service: definition.name, phase: "config", reason }))
      }
      const nodes = options.nodes ?? (yield* cluster.alloc(spec))
      const states = new Map<number, NodeState>(nodes.map((n) => [n.index, { scope: undefined, touched: false }]))
      const stateOf = (node: ClusterNode) => states.get(node.index)!
      const idx = (node: ClusterNode) => nodes.findIndex((n) => n.index === node.index) + 1 || -1
      const who = (node?: ClusterNode) => (node === undefined ? id : `${id} node ${idx(node)} on ${node.name}`)
      const fail = (node: ClusterNode | undefined, phase: S.ServiceError["phase"]) => (cause: Cause.Cause<unknown>) =>
        new ServiceError({
          service: id,
          ...(node === undefined ? {} : { node: node.name }),
          phase,
          reason: node === undefined ? reasonOf(cause) : pointAtCollected(node, reasonOf(cause))
        })
      /**
       * A failure naming one of the node's logs (a log wait that timed out) points at the copy collected under the
       * results rather than the node's scratch directory, which is gone once the run ends; that copy is made sure of.
       */
      const pointAtCollected = (node: ClusterNode, reason: string) =>
        Option.match(registry, {
          onNone: () => reason,
          onSome: (r) => {
            let text = reason
            for (const [name, spec] of Object.entries(logs)) {
              const remote = node.account.resolve(spec.path)
              if (!text.includes(remote)) continue
              r.collect.set(`${id}/${name}`, true)
              const local = displayPath(NodePath.join(r.logsDir, id, node.name, collectedName(logs, name, spec.path)))
              text = text.split(`${node.account.hostname}:${remote}`).join(`${local} (${node.name}'s ${spec.path})`).split(remote).join(local)
            }
            return text
          }
        })
      const run = <A>(node: ClusterNode, phase: S.ServiceError["phase"], effect: Effect.Effect<A, unknown, R>) =>
        effect.pipe(
          Effect.provide(context),
          Effect.sandbox,
          Effect.mapError(fail(node, phase)),
          Effect.annotateLogs({ service: id, node: node.name }),
          Effect.withSpan(`Service.${phase}Node`, { attributes: { service: id, node: node.name } })
        )
      const record: S.ServiceRecord = { id, name: definition.name, nodes: nodes.map((n) => n.name), startedAt: Date.now(), problems: [], notes: [] }
      Option.map(registry, (r) => r.records.push(record))

      const stopNode = (node: ClusterNode): Effect.Effect<void, ServiceError> =>
        Effect.gen(function*() {
          const state = stateOf(node)
          if (state.scope === undefined) return
          const scope = state.scope
          state.scope = undefined
          yield* Effect.logInfo(`stopping ${who(node)}`)
          const stopped = definition.stopNode === undefined
            ? Effect.void
            : Release.bounded(run(node, "stop", definition.stopNode(node, service)), stopTimeout, () =>
              new ServiceError({ service: id, node: node.name, phase: "stop", reason: `did not stop within ${Duration.format(Duration.decode(stopTimeout))}` }))
          // The node's scope closes whatever happened to stopNode: processes it started are killed there. Daemons
          // outlive it: after a failed stop, those still carrying this node's mark are killed, and the error says so.
          yield* Effect.ensuring(stopped, Release.bounded(Scope.close(scope, Exit.void), stopTimeout, () => undefined).pipe(Effect.ignore)).pipe(
            Effect.catchAll((e) => Effect.flatMap(stopLeftovers(node), (after) => Effect.fail(new ServiceError({ service: e.service, ...(e.node === undefined ? {} : { node: e.node }), phase: e.phase, reason: `${e.reason}; ${after}` }))))
          )
        })

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

      const cleanNode = (node: ClusterNode): Effect.Effect<void, ServiceError> =>
        definition.cleanNode === undefined
          ? Effect.void
          : Release.bounded(run(node, "clean", definition.cleanNode(node, service)), stopTimeout, () =>
            new ServiceError({ service: id, node: node.name, phase: "clean", reason: `did not finish within ${Duration.format(Duration.decode(stopTimeout))}` }))

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
          const starting = Scope.extend(definition.startNode(node, service), scope).pipe(
            Effect.locallyWith(ambientEnv, (env) => ({ ...env, [serviceVariable]: markOf(node, label) }))
          )
          yield* run(node, "start", jvm === undefined ? starting : jvm.starting(node, starting))
          yield* Effect.logInfo(`started ${who(node)}`)
        })

      const waitNode = (node: ClusterNode, timeout: Duration.DurationInput = defaultWaitTimeout) =>
        (definition.waitNode === undefined
          ? Effect.void
          : run(node, "wait", definition.waitNode(node, service))).pipe(
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () => new ServiceError({ service: id, node: node.name, phase: "wait", reason: `still running after ${Duration.format(Duration.decode(timeout))}` })
            })
          )

      const service: S.RunningService<Config> = {
        name: definition.name,
        id,
        config,
        nodes,
        idx,
        node: (i) => {
          const n = nodes[i - 1]
          if (n === undefined) throw new RangeError(`${id} has ${nodes.length} nodes; there is no node ${i}`)
          return n
        },
        who,
        startNode,
        stopNode,
        restartNode: (node) => Effect.zipRight(stopNode(node), startNode(node)),
        wait: (timeout = defaultWaitTimeout) =>
          Effect.forEach(nodes, (n) => waitNode(n, timeout), { concurrency: "unbounded", discard: true }).pipe(
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () => new ServiceError({ service: id, phase: "wait", reason: `still running after ${Duration.format(Duration.decode(timeout))}` })
            })
          ),
        waitNode
      }

      // Teardown, registered before any node starts so that a partial start is undone too: stop nodes in reverse,
      // collect logs, clean, then (by the allocation's own finalizer) give the nodes back.
      yield* Effect.addFinalizer((exit) =>
        Effect.gen(function*() {
          const touched = nodes.filter((n) => stateOf(n).touched)
          const note = (e: ServiceError) =>
            Effect.zipRight(Effect.logWarning(e.message), Effect.sync(() => record.problems.push(e.message)))
          if (Option.isSome(registry) && registry.value.noTeardown) {
            yield* collectLogs(registry.value, record, logs, touched, Exit.isFailure(exit))
            record.notes.push(`left running on ${touched.map((n) => n.name).join(", ")} (--no-teardown); \`ducktape clean\` removes it`)
            return
          }
          for (const node of [...touched].reverse()) yield* Effect.catchAll(stopNode(node), note)
          // A stop that failed fails the test (TeardownFailed): its logs are what explains it.
          const failed = Exit.isFailure(exit) || record.problems.length > 0
          if (Option.isSome(registry)) yield* collectLogs(registry.value, record, logs, touched, failed)
          yield* Effect.forEach(touched, (n) => Effect.catchAll(cleanNode(n), note), { concurrency: "unbounded", discard: true })
          if (jvm !== undefined) yield* Effect.forEach(touched, jvm.clear, { concurrency: "unbounded", discard: true })
          record.stoppedAt = Date.now()
        }).pipe(Effect.annotateLogs({ service: id }))
      )

      const startOne = (node: ClusterNode) =>
        Effect.gen(function*() {
          if (options.skipCleanBeforeStart !== true && definition.cleanNode !== undefined) {
            // Leftovers from an earlier run must not break this one; a failure here is only noted.
            yield* Effect.catchAll(cleanNode(node), (e) => Effect.logDebug(`pre-start clean: ${e.message}`))
          }
          stateOf(node).touched = true
          // JVM logs of an earlier run with this service id must not pass for this one's (a restart keeps them).
          if (jvm !== undefined) yield* jvm.clear(node)
          yield* startNode(node)
        })
      if (definition.packages !== undefined && definition.packages.length > 0) {
        const packages = definition.packages
        yield* Effect.forEach(nodes, (node) =>
          Provision.ensurePackages(node.account, packages).pipe(
            Effect.mapError((e) => new ServiceError({ service: id, node: node.name, phase: "provision", reason: e.message }))
          ), { concurrency: "unbounded", discard: true })
      }
      yield* Effect.forEach(nodes, startOne, {
        concurrency: definition.concurrentStart === true ? "unbounded" : 1,
        discard: true
      })
      if (definition.started !== undefined) {
        yield* definition.started(service).pipe(
          Effect.provide(context),
          Effect.sandbox,
          Effect.mapError(fail(undefined, "start")),
          Effect.withSpan("Service.started", { attributes: { service: id } })
        )
      }
      return service
    }).pipe(Effect.withSpan("Service.start", { attributes: { service: definition.name } }))

  /** Copies the node logs this test should keep into `<logsDir>/<service id>/<node>/`; a missing log is noted. */
  const collectLogs = (
    registry: S.ServiceRegistry,
    record: S.ServiceRecord,
    specs: Readonly<Record<string, S.LogSpec>>,
    nodes: ReadonlyArray<ClusterNode>,
    failed: boolean
  ) => {
    const logs = Object.entries(specs)
    const override = (log: string) =>
      [`${record.id}/${log}`, record.id, `${record.name}/${log}`, record.name]
        .map((k) => registry.collect.get(k))
        .find((v) => v !== undefined)
    const wanted = logs.filter(([name, spec]) => failed || (override(name) ?? spec.collectDefault === true))
    // A log keeps its file name, unless another one collected has the same (logs/out.log, data/out.log): then
    // its name in `logs` goes first, so neither overwrites the other.
    const fileName = (name: string, path: string) => collectedName(Object.fromEntries(wanted), name, path)
    return Effect.forEach(
      nodes.flatMap((node) => wanted.map(([name, spec]) => ({ node, name, spec }))),
      ({ node, name, spec }) =>
        node.account.copyFrom(spec.path, NodePath.join(registry.logsDir, record.id, node.name, fileName(name, spec.path))).pipe(
          Effect.catchAll((e) =>
            Effect.sync(() => record.notes.push(`log ${name} (${spec.path}) not collected from ${node.name}: ${e.message}`))
          )
        ),
      { concurrency: 8, discard: true }
    ).pipe(Effect.withSpan("Service.collectLogs", { attributes: { service: record.id } }))
  }

  const self: S.Service<Config, R> = {
    definition,
    tag,
    start: start as S.Service<Config, R>["start"],
    layer: (options) => Layer.scoped(tag, start(options)) as unknown as ReturnType<S.Service<Config, R>["layer"]>
  }
  return self
}

/** @internal */
export const background = <Config, R>(definition: S.BackgroundDefinition<Config, R>): S.Service<Config, R> => {
  const workers = new WeakMap<S.RunningService<Config>, Map<number, Fiber.RuntimeFiber<void, unknown>>>()
  return make<Config, R>({
    ...definition,
    startNode: (node, service) =>
      Effect.gen(function*() {
        const scope = yield* Scope.Scope
        const fiber = yield* Effect.forkIn(definition.worker(node, service), scope)
        const map = workers.get(service) ?? new Map()
        map.set(node.index, fiber as Fiber.RuntimeFiber<void, unknown>)
        workers.set(service, map)
      }),
    waitNode: (node, service) => {
      const fiber = workers.get(service)?.get(node.index)
      return fiber === undefined ? Effect.void : Fiber.join(fiber)
    },
    stopNode: (node, service) =>
      Effect.gen(function*() {
        const fiber = workers.get(service)?.get(node.index)
        if (fiber === undefined) return
        workers.get(service)?.delete(node.index)
        yield* definition.stopNode?.(node, service) ?? Effect.void
        // A worker that already failed reports it here; an interrupted one is a normal stop.
        const exit = yield* Fiber.interrupt(fiber)
        if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          yield* Effect.fail(new Error(`its worker had failed: ${reasonOf(exit.cause)}`))
        }
      })
  })
}
