/**
 * A service definition made into a Service: its own Tag, and `start`, which takes nodes, checks the config, starts
 * every node (provisioning packages first) and registers the teardown — the node steps are in serviceNodes.ts, the
 * teardown in serviceTeardown.ts, the logs kept in serviceLogs.ts.
 */
import { Cause, Context, Duration, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import type { ClusterNode } from "../../Cluster.js"
import { Cluster } from "../../Cluster.js"
import * as Provision from "../../Provision.js"
import type * as S from "../../Service.js"
import { ServiceError } from "./errors.js"
import * as JvmLogs from "./jvmLogs.js"
import { ServiceRegistry } from "./registry.js"
import { startProblem } from "./serviceConfig.js"
import { defaultWaitTimeout, type Instance, nodeSteps, reasonOf } from "./serviceNodes.js"
import { tearDown } from "./serviceTeardown.js"

const defaultStopTimeout = Duration.seconds(60)
/** Services started without a registry still get unique ids. */
let orphanCounter = 0

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
      const problem = startProblem(definition.name, config, options)
      if (problem !== undefined) return yield* Effect.fail(problem)
      const nodes = options.nodes ?? (yield* cluster.alloc(spec))

      const instance: Instance<Config, R> = { definition, id, nodes, logs, registry, context, jvm, stopTimeout }
      const steps = nodeSteps(instance, () => service)
      const service: S.RunningService<Config> = {
        name: definition.name,
        id,
        config,
        nodes,
        idx: steps.idx,
        node: (i) => {
          const n = nodes[i - 1]
          if (n === undefined) throw new RangeError(`${id} has ${nodes.length} nodes; there is no node ${i}`)
          return n
        },
        who: steps.who,
        startNode: steps.startNode,
        stopNode: steps.stopNode,
        restartNode: (node) => Effect.zipRight(steps.stopNode(node), steps.startNode(node)),
        wait: (timeout = defaultWaitTimeout) =>
          Effect.forEach(nodes, (n) => steps.waitNode(n, timeout), { concurrency: "unbounded", discard: true }).pipe(
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () => new ServiceError({ service: id, phase: "wait", reason: `still running after ${Duration.format(Duration.decode(timeout))}` })
            })
          ),
        waitNode: steps.waitNode
      }
      const record: S.ServiceRecord = { id, name: definition.name, nodes: nodes.map((n) => n.name), startedAt: Date.now(), problems: [], notes: [] }
      Option.map(registry, (r) => r.records.push(record))

      // Registered before any node starts, so that a partial start is undone too.
      yield* Effect.addFinalizer((exit) => tearDown(instance, steps, record, exit))

      if (definition.packages !== undefined && definition.packages.length > 0) {
        const packages = definition.packages
        yield* Effect.forEach(nodes, (node) =>
          Provision.ensurePackages(node.account, packages).pipe(
            Effect.mapError((e) => new ServiceError({ service: id, node: node.name, phase: "provision", reason: e.message, cause: e }))
          ), { concurrency: "unbounded", discard: true })
      }
      const startOne = (node: ClusterNode) =>
        Effect.gen(function*() {
          if (options.skipCleanBeforeStart !== true && definition.cleanNode !== undefined) {
            // Leftovers from an earlier run must not break this one; a failure here is only noted.
            yield* Effect.catchAll(steps.cleanNode(node), (e) => Effect.logDebug(`pre-start clean: ${e.message}`))
          }
          steps.touch(node)
          // JVM logs of an earlier run with this service id must not pass for this one's (a restart keeps them).
          if (jvm !== undefined) yield* jvm.clear(node)
          yield* steps.startNode(node)
        })
      yield* Effect.forEach(nodes, startOne, { concurrency: definition.concurrentStart === true ? "unbounded" : 1, discard: true })
      if (definition.started !== undefined) {
        yield* definition.started(service).pipe(
          Effect.provide(context),
          Effect.sandbox,
          Effect.mapError(steps.fail(undefined, "start")),
          Effect.withSpan("Service.started", { attributes: { service: id } })
        )
      }
      return service
    }).pipe(Effect.withSpan("Service.start", { attributes: { service: definition.name } }))

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
