/** Whether a node is still there after a failed test: it must run `true` in time. */
import { Cause, Duration, Effect, Predicate } from "effect"
import type { ClusterNode } from "../../Cluster.js"
import { errorText } from "../shared/errorText.js"

/** After a failed test, how long each of its nodes has to run `true` to count as still there. */
export const nodeCheckTimeout = Duration.seconds(15)

/** For each node, why it no longer counts as there, or undefined when it answered. Never fails. */
export const checkNodes = (nodes: ReadonlyArray<ClusterNode>): Effect.Effect<ReadonlyArray<string | undefined>> =>
  Effect.forEach(nodes, (node) =>
    node.account.exec("true", { timeout: nodeCheckTimeout }).pipe(
      Effect.as(undefined),
      Effect.catchAllCause((cause) => {
        const e = Cause.squash(cause)
        return Effect.succeed(
          Predicate.isTagged(e, "RemoteCommandTimeout")
            ? `it did not run \`true\` within ${Duration.format(nodeCheckTimeout)}`
            : errorText(e).split("\n")[0]!
        )
      })
    ), { concurrency: "unbounded" })
