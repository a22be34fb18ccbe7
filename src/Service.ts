/**
 * Services: what runs on cluster nodes during a test, described by how to start, stop and clean one node.
 *
 * A service is a scoped resource. `service.start(…)` (or `service.layer(…)`) allocates nodes, cleans leftovers,
 * and starts each node; when the scope closes — success, failure, timeout or interruption — every started node is
 * stopped (services in reverse order of start), logs are collected, nodes are cleaned and given back.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Layer, Scope } from "effect"
import { Context, Schema } from "effect"
import type { Cluster, ClusterNode, ClusterSpec, InsufficientResources } from "./Cluster.js"
import * as internal from "./internal/service/service.js"
import * as serviceConfig from "./internal/service/serviceConfig.js"
import * as registry from "./internal/service/registry.js"
import { ServiceError } from "./internal/service/errors.js"

export { ServiceError } from "./internal/service/errors.js"

/**
 * A log file a service writes on each node.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogSpec {
  /** Path on the node; relative paths are under the node's workdir. */
  readonly path: string
  /** Collect it after every test (true) or only after a failed one (false, the default). */
  readonly collectDefault?: boolean
}

/**
 * A running service, as tests and the service's own steps see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningService<Config> {
  /** The definition's name, e.g. `zookeeper`. */
  readonly name: string
  /** This instance's id within the test, e.g. `zookeeper-1`; its logs are collected under this name. */
  readonly id: string
  readonly config: Config
  readonly nodes: ReadonlyArray<ClusterNode>
  /** 1-based index of a node in this service, or -1. */
  readonly idx: (node: ClusterNode) => number
  /** The node with 1-based index `idx`. */
  readonly node: (idx: number) => ClusterNode
  /** `zookeeper-1 node 2 on worker3`, for messages. */
  readonly who: (node?: ClusterNode) => string
  readonly startNode: (node: ClusterNode) => Effect.Effect<void, ServiceError>
  readonly stopNode: (node: ClusterNode) => Effect.Effect<void, ServiceError>
  /** Stop then start one node (a "bounce"). */
  readonly restartNode: (node: ClusterNode) => Effect.Effect<void, ServiceError>
  /** Waits for every node's work to finish (services that end by themselves); default timeout 10 minutes. */
  readonly wait: (timeout?: Duration.DurationInput) => Effect.Effect<void, ServiceError>
  readonly waitNode: (node: ClusterNode, timeout?: Duration.DurationInput) => Effect.Effect<void, ServiceError>
}

/**
 * How to run one node of a service. A step may fail with any error: it reaches the test as a `ServiceError` naming
 * the service, the node and the phase, with the error's message.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<Config, R> {
  readonly name: string
  /** How many nodes (default 1), unless `spec` or the start options say otherwise. */
  readonly numNodes?: number
  readonly spec?: ClusterSpec
  /** Default configuration; a test's `start({ config })` is merged over it. Its type is the service's Config. */
  readonly config?: Config
  readonly logs?: Readonly<Record<string, LogSpec>>
  /** Debian packages the service needs on its nodes; installed when missing and possible (see Provision). */
  readonly packages?: ReadonlyArray<string>
  /**
   * Starts the service on one node. It runs in the node's own Scope: anything it acquires there (for example
   * `account.startProcess(…)`) is released when the node stops.
   */
  readonly startNode: (node: ClusterNode, service: RunningService<Config>) => Effect.Effect<void, unknown, R | Scope.Scope>
  /** Stops it on one node; the node's Scope is closed right after. Default: nothing beyond closing that Scope. */
  readonly stopNode?: (node: ClusterNode, service: RunningService<Config>) => Effect.Effect<void, unknown, R>
  /** Removes what the service left on the node (data, logs); also run before start, to clear leftovers. */
  readonly cleanNode?: (node: ClusterNode, service: RunningService<Config>) => Effect.Effect<void, unknown, R>
  /** Runs once after every node has started, e.g. to wait until an ensemble has a leader. */
  readonly started?: (service: RunningService<Config>) => Effect.Effect<void, unknown, R>
  /** Completes when the node's work is done, for services that end by themselves. */
  readonly waitNode?: (node: ClusterNode, service: RunningService<Config>) => Effect.Effect<void, unknown, R>
  /** Start nodes concurrently instead of one after another. */
  readonly concurrentStart?: boolean
  /** Upper bound on each stop and clean step, so teardown never hangs (default 60 seconds). */
  readonly stopTimeout?: Duration.DurationInput
}

/**
 * What a test can choose when it starts a service.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartOptions<Config> {
  readonly numNodes?: number
  readonly spec?: ClusterSpec
  /**
   * Run on these nodes instead of taking new ones from the cluster — nodes the test already holds, e.g. another
   * service's (`{ nodes: zk.nodes }`, an agent beside each server; ducktape's skip_nodes_allocation). They are not
   * given back when this service stops: their owner does that.
   */
  readonly nodes?: ReadonlyArray<ClusterNode>
  readonly config?: Partial<Config>
  /** Skip cleaning leftovers before start. */
  readonly skipCleanBeforeStart?: boolean
}

/**
 * A service definition: start it in a scope, or use it as a Layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service<Config, R> {
  readonly definition: Definition<Config, R>
  /** The Tag its Layer provides. */
  readonly tag: Context.Tag<RunningService<Config>, RunningService<Config>>
  readonly start: (
    options?: StartOptions<Config>
  ) => Effect.Effect<RunningService<Config>, ServiceError | InsufficientResources, R | Cluster | Scope.Scope>
  readonly layer: (
    options?: StartOptions<Config>
  ) => Layer.Layer<RunningService<Config>, ServiceError | InsufficientResources, Exclude<R, Scope.Scope> | Cluster>
}

/**
 * A config field without a default, e.g. `config: { broker: Service.required<Broker>("brokerOf(redis)") }`: a start
 * whose config does not give it fails at once with a ServiceError naming the field (and the hint), before any node
 * is taken.
 *
 * @since 0.1.0
 * @category utils
 */
export const required: <A>(hint?: string) => A = serviceConfig.required

/**
 * Defines a service from its per-node steps.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <Config = {}, R = never>(definition: Definition<Config, R>) => Service<Config, R> =
  internal.make

/**
 * A worker-per-node service (ducktape's BackgroundThreadService): each node runs `worker` as a fiber.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackgroundDefinition<Config, R> extends Omit<Definition<Config, R>, "startNode" | "waitNode"> {
  /** The node's work; failures surface from `wait`, `stopNode` and at teardown; interruption stops it. */
  readonly worker: (node: ClusterNode, service: RunningService<Config>) => Effect.Effect<void, unknown, R | Scope.Scope>
}

/**
 * Defines a worker-per-node service.
 *
 * @since 0.1.0
 * @category utils
 */
export const background: <Config = {}, R = never>(
  definition: BackgroundDefinition<Config, R>
) => Service<Config, R> = internal.background

// ---------------------------------------------------------------------------------------------------------
// The registry: what a test knows about its services
// ---------------------------------------------------------------------------------------------------------

/**
 * A service's record in a test's results.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceRecord {
  readonly id: string
  readonly name: string
  readonly nodes: ReadonlyArray<string>
  readonly startedAt: number
  stoppedAt?: number
  /** Teardown steps that failed (the test is reported with them). */
  readonly problems: Array<string>
  /** Things worth knowing that are not failures, e.g. a log that was not there to collect. */
  readonly notes: Array<string>
}

/**
 * Per-test bookkeeping: service ids, where logs go, which logs to collect. The runner provides one per test;
 * without one, services still run but collect no logs.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceRegistry {
  /** Directory under which each service's logs land as `<service-id>/<node>/…`. */
  readonly logsDir: string
  /** The services started so far, for the test's results. */
  readonly records: Array<ServiceRecord>
  /** Overrides of `collectDefault`, keyed `<service name or id>` or `<service name or id>/<log name>`. */
  readonly collect: Map<string, boolean>
  /** Leave services running after the test (--no-teardown): logs are still collected, nothing is stopped. */
  readonly noTeardown: boolean
  /** --enable-jvm-logs: JVMs that services start log GC and dump their heap on OOM; collected as logs. */
  readonly jvmLogs: boolean
  /** Next instance number for a service name (1-based). */
  readonly nextOrder: (name: string) => number
}

/**
 * The current test's service registry.
 *
 * @since 0.1.0
 * @category tags
 */
export const ServiceRegistry: Context.Tag<ServiceRegistry, ServiceRegistry> = registry.ServiceRegistry

/**
 * A fresh registry writing logs under `logsDir`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRegistry: (
  logsDir: string,
  options?: { readonly noTeardown?: boolean; readonly jvmLogs?: boolean }
) => ServiceRegistry =
  registry.makeRegistry

/**
 * Collect a service's logs (all, or one) even if the test passes.
 *
 * @since 0.1.0
 * @category utils
 */
export const markForCollect: (service: { readonly id: string }, logName?: string) => Effect.Effect<void> =
  registry.markForCollect(true)

/**
 * Do not collect a service's logs (all, or one) when the test passes; a failed test collects every log.
 *
 * @since 0.1.0
 * @category utils
 */
export const markNoCollect: (service: { readonly id: string }, logName?: string) => Effect.Effect<void> =
  registry.markForCollect(false)
