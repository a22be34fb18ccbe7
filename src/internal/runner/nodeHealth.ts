/**
 * Whether a node is still there after a failed test (it must run `true` in time), and the nodes of a test given back
 * to the pool: all of them, but for those that stopped answering, which are taken out of the run.
 */
import { Cause, Deferred, Duration, Effect, Predicate } from "effect"
import type { ClusterNode, Pool } from "../../Cluster.js"
import type { RunEvent } from "../../Runner.js"
import { errorText } from "../shared/errorText.js"
import type { RunState } from "./runState.js"

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

/**
 * Gives a test's nodes back to `pool`. A node that stopped answering during a failed test would fail every test
 * after it: it is taken out of the run (ducktape's complaint: one bad node, a cascade of failures), and tests that
 * no longer fit fail saying so.
 */
export const returnNodes = (
  ctx: { readonly pool: Pool; readonly state: RunState; readonly emit: (event: RunEvent) => Effect.Effect<void> },
  nodes: ReadonlyArray<ClusterNode>,
  failed: boolean
) =>
  Effect.gen(function*() {
    const { emit, pool, state } = ctx
    // A run that is stopping checks nothing: its tests were stopped, not broken by their nodes.
    const check = failed && state.stopping === undefined && !(yield* Deferred.isDone(state.abort))
    const problems = check
      ? yield* checkNodes(nodes)
      : []
    pool.giveBack(nodes.filter((_, i) => problems[i] === undefined))
    for (const [i, node] of nodes.entries()) {
      const problem = problems[i]
      if (problem === undefined) continue
      state.lostNodes.push(node.name)
      // The result must reach the loop whatever a listener does with this.
      yield* Effect.catchAllCause(emit({ _tag: "NodeLost", node: node.name, reason: problem }), () => Effect.void)
    }
  })
