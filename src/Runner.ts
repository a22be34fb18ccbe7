/**
 * The runner: runs test cases concurrently on one shared cluster, each on a sub-cluster of its declared size,
 * with a per-test timeout, retries (--deflake), and a results directory per session.
 *
 * @since 0.1.0
 */
import type { Duration, Effect } from "effect"
import { Schema } from "effect"
import type { Leftover } from "./Clean.js"
import type { Cluster } from "./Cluster.js"
import type { LoadFailure } from "./Discovery.js"
import * as internal from "./internal/runner/runner.js"
import type { SessionResults, TestResult } from "./Results.js"
import type { TestCase } from "./Test.js"
import { ResultsDirError } from "./internal/runner/errors.js"

export { ResultsDirError } from "./internal/runner/errors.js"

/**
 * What the runner tells the terminal as the run goes.
 *
 * @since 0.1.0
 * @category models
 */
export type RunEvent =
  | { readonly _tag: "SessionStarted"; readonly sessionId: string; readonly resultsDir: string; readonly total: number }
  | { readonly _tag: "TestStarted"; readonly testId: string; readonly attempt: number; readonly nodes: ReadonlyArray<string> }
  | { readonly _tag: "TestFinished"; readonly result: TestResult; readonly willRetry: boolean }
  | { readonly _tag: "Stopping"; readonly reason: string }
  | { readonly _tag: "NodeLost"; readonly node: string; readonly reason: string }
  | { readonly _tag: "LeftoversRemoved"; readonly leftovers: ReadonlyArray<Leftover> }

/**
 * How to run.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  readonly cases: ReadonlyArray<TestCase>
  readonly loadFailures?: ReadonlyArray<LoadFailure>
  /** Most tests running at once. Default 1. */
  readonly maxParallel?: number
  /** Where session directories go. Default `./results`. */
  readonly resultsRoot?: string
  /** Timeout for tests that do not set their own. Default 30 minutes. */
  readonly testTimeout?: Duration.DurationInput
  /** Total runs allowed for a failing test; a later pass is FLAKY. Default 1. */
  readonly deflake?: number
  /** Start no new test after the first failure. */
  readonly exitFirst?: boolean
  /** Run the selection this many times. Default 1. */
  readonly repeat?: number
  /** JVMs that services start log GC and dump their heap on OOM, collected with the service's logs (JDK 9+). */
  readonly enableJvmLogs?: boolean
  /** Leave every test's services running (for debugging); logs are still collected. */
  readonly noTeardown?: boolean
  /** Fail a test that used fewer nodes than it declared. */
  readonly failBadClusterUtilization?: boolean
  readonly globals?: Readonly<Record<string, unknown>>
  /** Copy test log lines to the terminal (stderr) too. */
  readonly debug?: boolean
  /** The command line, for the report's rerun hint. */
  readonly argv?: ReadonlyArray<string>
  /** The start of the command that reruns failed tests, for the reports (see `SessionResults.rerun`). */
  readonly rerun?: string
  readonly onEvent?: (event: RunEvent) => Effect.Effect<void>
  /**
   * Called once the reports are written, also when the run was interrupted (Ctrl-C) — the one place to show the
   * results then, since `run` itself does not return.
   */
  readonly onConcluded?: (session: Session) => Effect.Effect<void>
  /**
   * Called once the session directory exists, with a way to write the reports of what ran so far synchronously:
   * for a process that must exit at once (a second Ctrl-C) and will run no Effect again.
   */
  readonly onStarted?: (started: { readonly dir: string; readonly writeReportsSync: () => void }) => Effect.Effect<void>
  /** The framework version written into reports. */
  readonly version?: string
}

export {
  /** The run was interrupted while a test ran; the test was stopped and torn down. */
  RunInterrupted,
  /** A test ran out of time; its services were torn down before this was reported. */
  TestTimeout,
  /** An exception no code caught while a test ran: every test running then fails with it. */
  UncaughtError
} from "./internal/runner/errors.js"

/**
 * A finished (or interrupted) session: its results and where they were written.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly results: SessionResults
  readonly dir: string
}

/**
 * Runs a session on the Cluster in context and writes its reports. If the run is interrupted (Ctrl-C), running
 * tests are interrupted and torn down, and the reports are written for what ran before the interruption ends it.
 *
 * @since 0.1.0
 * @category utils
 */
export const run: (options: RunOptions) => Effect.Effect<Session, ResultsDirError, Cluster> = internal.run

/**
 * Allocates the next session id `YYYY-MM-DD--NNN` under the results root and creates its directory.
 *
 * @since 0.1.0
 * @category utils
 */
export const createSessionDir: (resultsRoot: string) => Effect.Effect<{ readonly id: string; readonly dir: string }, ResultsDirError> =
  internal.createSessionDir
