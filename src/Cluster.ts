/**
 * A cluster: the nodes tests run services on, and the allocation of those nodes as scoped resources.
 *
 * Sources (each a Layer): `localhost(n)` (no setup at all), `fromFile(path)` (ducktape's cluster.json),
 * `fromSshConfig(path)` (an OpenSSH config, e.g. `vagrant ssh-config > file`).
 *
 * @since 0.1.0
 */
import type { Context, Effect, Layer, Scope } from "effect"
import * as clusterFile from "./internal/cluster/clusterFile.js"
import * as localhostCluster from "./internal/cluster/localhost.js"
import * as pool from "./internal/cluster/pool.js"
import * as sshConfig from "./internal/cluster/sshConfig.js"
import type { ClusterConfigError, InsufficientResources, UnreachableNodes } from "./internal/cluster/errors.js"
import * as tag from "./internal/cluster/tag.js"
import type { RemoteAccount, RemoteConnectionError } from "./RemoteAccount.js"

export { ClusterConfigError, InsufficientResources, UnreachableNodes } from "./internal/cluster/errors.js"

/**
 * One node of a cluster.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterNode {
  /** The node's logical name (its account's hostname). */
  readonly name: string
  /** Its position in the whole cluster, 0-based: stable for the cluster's life. */
  readonly index: number
  readonly account: RemoteAccount
  /** A free-form type (e.g. "large") that tests can ask for; untyped nodes have none. */
  readonly nodeType: string | undefined
}

/**
 * A request for nodes: a count, or groups of counts by node type.
 *
 * @since 0.1.0
 * @category models
 */
export type ClusterSpec =
  | number
  | { readonly numNodes: number; readonly nodeType?: string }
  | ReadonlyArray<{ readonly numNodes: number; readonly nodeType?: string }>

/**
 * A spec in its one canonical form.
 *
 * @since 0.1.0
 * @category models
 */
export type NormalizedSpec = ReadonlyArray<{ readonly numNodes: number; readonly nodeType: string | undefined }>

/**
 * A pool of nodes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Cluster {
  /** Every node, in order. */
  readonly all: ReadonlyArray<ClusterNode>
  readonly size: number
  readonly available: Effect.Effect<ReadonlyArray<ClusterNode>>
  readonly used: Effect.Effect<ReadonlyArray<ClusterNode>>
  /** The most nodes in use at once so far. */
  readonly maxUsed: Effect.Effect<number>
  /** Whether the spec could be met now / ever (by the whole cluster). */
  readonly fitsNow: (spec: ClusterSpec) => Effect.Effect<boolean>
  readonly fitsEver: (spec: ClusterSpec) => boolean
  /** Takes nodes for the life of the scope; an impossible request fails at once and changes nothing. */
  readonly alloc: (spec: ClusterSpec) => Effect.Effect<ReadonlyArray<ClusterNode>, InsufficientResources, Scope.Scope>
  /** The synchronous core the runner's scheduler allocates through (see `Pool`). */
  readonly [PoolTypeId]: Pool
}

/**
 * The key of a cluster's `Pool`: out of the way of tests, which allocate through `alloc`.
 *
 * @since 0.1.0
 * @category symbols
 */
export const PoolTypeId: typeof tag.PoolTypeId = tag.PoolTypeId
/**
 * The key of a cluster's `Pool`, as a type.
 *
 * @since 0.1.0
 * @category symbols
 */
export type PoolTypeId = typeof PoolTypeId

/**
 * The synchronous core of a cluster, for the runner's scheduler, which tries every waiting test after every
 * finished one and cannot afford a Scope per try. Not for tests: what it hands out is given back by hand.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pool {
  /** Takes nodes now if the spec fits (undefined, and nothing taken, if not); the caller must give them back. */
  readonly tryTake: (spec: ClusterSpec) => ReadonlyArray<ClusterNode> | undefined
  /** Returns nodes `tryTake` handed out. */
  readonly giveBack: (nodes: ReadonlyArray<ClusterNode>) => void
}

/**
 * The cluster the current effect runs on (a test sees its own sub-cluster here).
 *
 * @since 0.1.0
 * @category tags
 */
export const Cluster: Context.Tag<Cluster, Cluster> = tag.Cluster

/**
 * Normalizes a spec; counts must be non-negative integers.
 *
 * @since 0.1.0
 * @category utils
 */
export const normalize: (spec: ClusterSpec) => NormalizedSpec = pool.normalize

/**
 * The total number of nodes a spec asks for.
 *
 * @since 0.1.0
 * @category utils
 */
export const specSize = (spec: ClusterSpec): number => normalize(spec).reduce((n, s) => n + s.numNodes, 0)

/**
 * Describes a spec for people, e.g. `3 nodes (1 large)`.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeSpec: (spec: ClusterSpec) => string = pool.describeSpec

/**
 * Whether a spec can be met by these nodes.
 *
 * @since 0.1.0
 * @category utils
 */
export const fitsIn: (spec: ClusterSpec, nodes: ReadonlyArray<ClusterNode>) => boolean = pool.fitsIn

/**
 * A cluster over a fixed list of nodes (also how a test's sub-cluster is made).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (nodes: ReadonlyArray<ClusterNode>) => Effect.Effect<Cluster> = pool.makePool

/**
 * Options of the localhost cluster.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalhostOptions {
  readonly numNodes: number
  /** Where node workdirs live; default a fresh directory under the OS temp dir, removed when the layer closes. */
  readonly root?: string
  /** Keep the default root when the layer closes (what --no-teardown left running lives there). */
  readonly keep?: boolean
}

/**
 * N nodes on this machine over local processes. Node i is `worker<i>` with its own workdir and its own loopback
 * address (127.0.0.<10+i>…), so services on different nodes can bind the same port.
 *
 * @since 0.1.0
 * @category constructors
 */
export const localhost: (options: LocalhostOptions) => Layer.Layer<Cluster, ClusterConfigError> = localhostCluster.localhost

/**
 * Options shared by the ssh-based sources.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshSourceOptions {
  /** Check that every node answers before any test uses it (default true). */
  readonly healthCheck?: boolean
  /** Host-key checking for nodes that do not say (default true, against ~/.ssh/known_hosts). */
  readonly strictHostKeyChecking?: boolean
}

/**
 * Nodes from a ducktape cluster.json (read as-is; see README for the fields).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFile: (
  path: string,
  options?: SshSourceOptions
) => Layer.Layer<Cluster, ClusterConfigError | UnreachableNodes | RemoteConnectionError> = clusterFile.fromFile

/**
 * Nodes from an OpenSSH config file: each `Host` alias (no wildcards) is a node.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSshConfig: (
  path: string,
  options?: SshSourceOptions
) => Layer.Layer<Cluster, ClusterConfigError | UnreachableNodes | RemoteConnectionError> = sshConfig.fromSshConfig
