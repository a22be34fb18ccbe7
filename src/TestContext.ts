/**
 * What a running test knows about itself: its id and parameters, the session, where its results go, the
 * run's globals and its own sub-cluster.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { Cluster } from "./Cluster.js"
import type { Params } from "./Test.js"

/**
 * The current test.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestContext {
  readonly testId: string
  readonly suite: string | undefined
  readonly name: string
  readonly params: Params
  readonly description: string
  readonly sessionId: string
  /** This test's own results directory (logs, data.json, collected service logs). */
  readonly resultsDir: string
  /** Which run of the test this is: 1, or more under --deflake. */
  readonly attempt: number
  /** The run's --globals, read-only. */
  readonly globals: Readonly<Record<string, unknown>>
  /** The nodes this test was given. */
  readonly cluster: Cluster
}

/**
 * The current test's context.
 *
 * @since 0.1.0
 * @category tags
 */
export const TestContext: Context.Tag<TestContext, TestContext> = Context.GenericTag<TestContext>(
  "ducktape-effect/TestContext"
)
