/**
 * The results model: one record per test case and one per session. The runner produces it; every report
 * (txt, json, JUnit, HTML) reads only this, and `report.json` is this model encoded.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * How a test ended. FLAKY: failed, then passed on a retry under --deflake.
 *
 * @since 0.1.0
 * @category utils
 */
export const TestStatus = Schema.Literal("PASS", "FAIL", "IGNORE", "FLAKY")
/**
 * @see TestStatus
 *
 * @since 0.1.0
 * @category models
 */
export type TestStatus = typeof TestStatus.Type

/**
 * A service a test started, for the report.
 *
 * @since 0.1.0
 * @category utils
 */
export const ServiceSummary = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  nodes: Schema.Array(Schema.String),
  startedAt: Schema.Number,
  stoppedAt: Schema.optional(Schema.Number),
  problems: Schema.Array(Schema.String),
  notes: Schema.Array(Schema.String)
})
/**
 * @see ServiceSummary
 *
 * @since 0.1.0
 * @category models
 */
export type ServiceSummary = typeof ServiceSummary.Type

/**
 * A fault applied during a test and when it was healed (shown as a timeline).
 *
 * @since 0.1.0
 * @category utils
 */
export const FaultRecord = Schema.Struct({
  kind: Schema.String,
  target: Schema.String,
  detail: Schema.String,
  appliedAt: Schema.Number,
  healedAt: Schema.optional(Schema.Number),
  /**
   * A one-shot fault (a kill, a bounce) is never healed: what followed it. "restarted" comes with `restartedAt`,
   * when the restart finished; "restart failed" with the moment it failed.
   */
  outcome: Schema.optional(Schema.Literal("restarted", "not restarted", "restart failed")),
  restartedAt: Schema.optional(Schema.Number)
})
/**
 * @see FaultRecord
 *
 * @since 0.1.0
 * @category models
 */
export type FaultRecord = typeof FaultRecord.Type

/**
 * A history a test attached (`Test.recordHistory`): its files (relative to the test's directory) and verdict.
 *
 * @since 0.1.0
 * @category utils
 */
export const HistorySummary = Schema.Struct({
  name: Schema.String,
  /** The history as JSON Lines (`History.toJsonLines`). */
  file: Schema.String,
  faultsFile: Schema.String,
  verdictFile: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  verdict: Schema.optional(Schema.Literal("Valid", "Invalid", "Unknown")),
  ops: Schema.Number,
  outcomes: Schema.Struct({ ok: Schema.Number, fail: Schema.Number, info: Schema.Number }),
  /** For an invalid verdict, the id of the operation that cannot be placed. */
  failingOp: Schema.optional(Schema.Number)
})
/**
 * @see HistorySummary
 *
 * @since 0.1.0
 * @category models
 */
export type HistorySummary = typeof HistorySummary.Type

/**
 * Nodes a test held for one attempt, from their allocation to their release (the session timeline's bars).
 *
 * @since 0.1.0
 * @category utils
 */
export const NodeAllocation = Schema.Struct({
  nodes: Schema.Array(Schema.String),
  allocatedAt: Schema.Number,
  releasedAt: Schema.Number
})
/**
 * @see NodeAllocation
 *
 * @since 0.1.0
 * @category models
 */
export type NodeAllocation = typeof NodeAllocation.Type

/**
 * One test case's result.
 *
 * @since 0.1.0
 * @category utils
 */
export const TestResult = Schema.Struct({
  testId: Schema.String,
  module: Schema.String,
  suite: Schema.optional(Schema.String),
  name: Schema.String,
  params: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  description: Schema.String,
  /** Path of the test file, relative to the current directory. */
  file: Schema.String,
  /** The selection symbol that reruns exactly this case: `file::Suite.test@{json}`. */
  symbol: Schema.String,
  status: TestStatus,
  /** "Test Passed", the failure message, or why it was ignored. */
  summary: Schema.String,
  /** The failure in detail (error tag, message, cause) for FAIL and FLAKY. */
  failure: Schema.optional(Schema.Struct({ tag: Schema.String, message: Schema.String, detail: Schema.String })),
  /** Summaries of every attempt when the test was retried (--deflake). */
  attempts: Schema.Array(Schema.Struct({ status: TestStatus, summary: Schema.String, runTimeSeconds: Schema.Number })),
  startTime: Schema.Number,
  stopTime: Schema.Number,
  runTimeSeconds: Schema.Number,
  /** The test's returned value, also saved as data.json. */
  data: Schema.optional(Schema.Unknown),
  /** The test's results directory, relative to the session's. */
  resultsDir: Schema.String,
  nodesAllocated: Schema.Number,
  nodesUsed: Schema.Number,
  nodes: Schema.Array(Schema.String),
  /** Per attempt, the nodes it held and when; absent in results written before 0.1.0's timeline. */
  allocations: Schema.optional(Schema.Array(NodeAllocation)),
  services: Schema.Array(ServiceSummary),
  faults: Schema.Array(FaultRecord),
  /** Histories the test attached, with their verdicts; absent when it attached none. */
  histories: Schema.optional(Schema.Array(HistorySummary))
})
/**
 * @see TestResult
 *
 * @since 0.1.0
 * @category models
 */
export type TestResult = typeof TestResult.Type

/**
 * A whole run.
 *
 * @since 0.1.0
 * @category utils
 */
export const SessionResults = Schema.Struct({
  sessionId: Schema.String,
  frameworkVersion: Schema.String,
  startTime: Schema.Number,
  stopTime: Schema.Number,
  runTimeSeconds: Schema.Number,
  clusterNumNodes: Schema.Number,
  parallelism: Schema.Number,
  /** How the run was started. */
  argv: Schema.Array(Schema.String),
  /**
   * The start of a command that reruns this session's failed tests (the environment and the flags that do not
   * select tests, e.g. `DUCKTAPE_LAB=1 npx ducktape --cluster-file lab.json`); the symbols follow it.
   */
  rerun: Schema.optional(Schema.String),
  /** True when the run was cut short (Ctrl-C, --exit-first): tests that did not run are not in `results`. */
  interrupted: Schema.Boolean,
  /** Tests selected but never started (after an interruption or --exit-first). */
  notRun: Schema.Array(Schema.String),
  results: Schema.Array(TestResult)
})
/**
 * @see SessionResults
 *
 * @since 0.1.0
 * @category models
 */
export type SessionResults = typeof SessionResults.Type

/**
 * Counts by status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counts {
  readonly total: number
  readonly passed: number
  readonly failed: number
  readonly ignored: number
  readonly flaky: number
}

/**
 * Counts a session's results by status.
 *
 * @since 0.1.0
 * @category utils
 */
export const counts = (results: ReadonlyArray<TestResult>): Counts => ({
  total: results.length,
  passed: results.filter((r) => r.status === "PASS").length,
  failed: results.filter((r) => r.status === "FAIL").length,
  ignored: results.filter((r) => r.status === "IGNORE").length,
  flaky: results.filter((r) => r.status === "FLAKY").length
})

/**
 * The run's exit code: 0 when nothing failed (flaky and ignored are fine) and every selected test ran, else 1.
 *
 * @since 0.1.0
 * @category utils
 */
export const exitCode = (session: SessionResults): 0 | 1 =>
  session.results.some((r) => r.status === "FAIL") || session.notRun.length > 0 ? 1 : 0
