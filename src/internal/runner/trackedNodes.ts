/**
 * A test's nodes as the test sees them: each call on a node's account marks the node used (for
 * --fail-bad-cluster-utilization) and remembers where the user made it (for the failure's detail).
 */
import { Cause, Effect } from "effect"
import type * as ClusterModule from "../../Cluster.js"
import { noteCallSite } from "./failure.js"

/**
 * The test's view of its nodes: each account marks its node as used when any of its methods is called, so that
 * --fail-bad-cluster-utilization counts a node a test ran commands on without allocating it (cluster.all[0]).
 */
export const tracked = (nodes: ReadonlyArray<ClusterModule.ClusterNode>, touched: Set<string>): ReadonlyArray<ClusterModule.ClusterNode> =>
  nodes.map((node) => ({
    ...node,
    account: new Proxy(node.account, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver)
        if (typeof value !== "function") return value
        return function(this: unknown, ...args: Array<unknown>) {
          touched.add(node.name)
          const result: unknown = Reflect.apply(value, this === receiver ? target : this, args)
          if (!Effect.isEffect(result)) return result
          // Where the test or service called the account: the error itself is made in a callback of the library,
          // and its stack has none of the user's frames.
          const site = new Error()
          return Effect.tapErrorCause(result, (cause) =>
            Effect.sync(() => {
              for (const e of [...Cause.failures(cause), ...Cause.defects(cause)]) noteCallSite(e, site)
            }))
        }
      }
    })
  }))
