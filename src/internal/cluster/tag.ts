/**
 * What identifies a cluster at run time — its Tag and the key of its scheduler core — in a module of its own, so
 * that the machinery can use them without importing Cluster.ts (which imports the machinery).
 */
import { Context } from "effect"
import type { Cluster as ClusterService } from "../../Cluster.js"

/** The cluster the current effect runs on. */
export const Cluster: Context.Tag<ClusterService, ClusterService> = Context.GenericTag<ClusterService>("ducktape-effect/Cluster")

/** The key of a cluster's scheduler core. */
export const PoolTypeId: unique symbol = Symbol.for("ducktape-effect/Cluster/Pool")
