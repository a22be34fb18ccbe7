/**
 * Writing tests: a test is an `Effect.gen` program with declared cluster needs, optional parameter cases
 * (`parametrize`, `matrix`, `defaults`), `ignore`, an environment condition, a timeout and a description.
 *
 * A test file exports suites (`Test.suite`) or single tests (`Test.make`). Test ids follow ducktape:
 * `<module>.<Suite>.<test>[.k=v…]`, with the same escaping of parameter values.
 *
 * @since 0.1.0
 */
import type { Duration, Scope } from "effect"
import { Effect, Schema } from "effect"
import type { Cluster, ClusterSpec } from "./Cluster.js"
import type { History } from "./History.js"
import { format as formatVerdict } from "./internal/history/checker.js"
import * as historyRecord from "./internal/history/record.js"
import * as internal from "./internal/test/test.js"
import type { Verdict } from "./Linearizability.js"
import type { Model } from "./Model.js"
import type { HistorySummary } from "./Results.js"
import type { ServiceRegistry } from "./Service.js"
import { TestContext } from "./TestContext.js"
import type { FaultRecord as WorkloadFaultRecord } from "./Workload.js"

/**
 * Parameter values of one test case.
 *
 * @since 0.1.0
 * @category models
 */
export type Params = Readonly<Record<string, unknown>>

/**
 * What a test body may ask for: its context, its sub-cluster, its scope (services), the service registry.
 *
 * @since 0.1.0
 * @category models
 */
export type TestServices = TestContext | Cluster | Scope.Scope | ServiceRegistry

/**
 * A test body: takes its case's parameters, returns the test's data (saved as data.json).
 *
 * @since 0.1.0
 * @category models
 */
export type Body<P extends Params> = (params: P) => Effect.Effect<unknown, unknown, TestServices>

/**
 * Lists of values per key: every combination becomes a case.
 *
 * @since 0.1.0
 * @category models
 */
export type Matrix = Readonly<Record<string, ReadonlyArray<unknown>>>

/**
 * The cases a matrix expands to.
 *
 * @since 0.1.0
 * @category models
 */
export type MatrixCase<M extends Matrix> = { readonly [K in keyof M]: M[K][number] }

/**
 * How a test is declared.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestOptions<P extends Params> {
  /** Nodes the test needs: a count, a typed spec, or a function of the case's parameters. Default 1. */
  readonly cluster?: ClusterSpec | ((params: P) => ClusterSpec)
  /** Explicit cases (each becomes a test). */
  readonly parametrize?: ReadonlyArray<P>
  /** Cartesian products; several matrices give the union of their products. */
  readonly matrix?: Matrix | ReadonlyArray<Matrix>
  /** Values for keys a case does not set (each combination is added per case). */
  readonly defaults?: Matrix
  /** Ignore every case (true), or only the cases equal to one of these. */
  readonly ignore?: boolean | ReadonlyArray<Partial<P>>
  /** Run only when each variable has this value; otherwise the test is IGNORE. */
  readonly env?: Readonly<Record<string, string>>
  /** Fail the test (tearing its services down) after this long. Default: the run's --test-timeout. */
  readonly timeout?: Duration.DurationInput
  readonly description?: string
}

/**
 * What marks a declared test and a suite. `Symbol.for`, so that a test file that loaded another copy of this module
 * is still recognised by discovery.
 *
 * @since 0.1.0
 * @category symbols
 */
export const TestTypeId: unique symbol = Symbol.for("ducktape-effect/Test")
/**
 * @see TestTypeId
 *
 * @since 0.1.0
 * @category symbols
 */
export type TestTypeId = typeof TestTypeId
/**
 * @see TestTypeId
 *
 * @since 0.1.0
 * @category symbols
 */
export const SuiteTypeId: unique symbol = Symbol.for("ducktape-effect/Test/Suite")
/**
 * @see TestTypeId
 *
 * @since 0.1.0
 * @category symbols
 */
export type SuiteTypeId = typeof SuiteTypeId

/**
 * One declared test (before expansion into cases).
 *
 * @since 0.1.0
 * @category models
 */
export interface Test<P extends Params = Params> {
  readonly [TestTypeId]: TestTypeId
  readonly _tag: "Test"
  readonly options: TestOptions<P>
  readonly body: Body<P>
}

/**
 * A named group of tests (ducktape's test class).
 *
 * @since 0.1.0
 * @category models
 */
export interface Suite {
  readonly [SuiteTypeId]: SuiteTypeId
  readonly _tag: "Suite"
  readonly name: string
  readonly tests: Readonly<Record<string, Test<any>>>
  readonly description?: string
}

/**
 * Declares a test without parameters.
 *
 * @since 0.1.0
 * @category constructors
 */
export function make(body: Body<{}>): Test<{}>
/**
 * Declares a test with options; parameters are typed from `matrix` or `parametrize`.
 *
 * @since 0.1.0
 * @category constructors
 */
export function make<const M extends Matrix>(
  options: TestOptions<MatrixCase<M>> & { readonly matrix: M },
  body: Body<MatrixCase<M>>
): Test<MatrixCase<M>>
export function make<const P extends Params>(
  options: TestOptions<P> & { readonly parametrize: ReadonlyArray<P> },
  body: Body<P>
): Test<P>
export function make<P extends Params = {}>(options: TestOptions<P>, body: Body<P>): Test<P>
export function make(optionsOrBody: TestOptions<Params> | Body<{}>, body?: Body<Params>): Test<Params> {
  return typeof optionsOrBody === "function"
    ? { [TestTypeId]: TestTypeId, _tag: "Test", options: {}, body: optionsOrBody as Body<Params> }
    : { [TestTypeId]: TestTypeId, _tag: "Test", options: optionsOrBody, body: body! }
}

/**
 * Groups tests under a suite name (ducktape's test class).
 *
 * @since 0.1.0
 * @category utils
 */
export const suite = (
  name: string,
  tests: Readonly<Record<string, Test<any>>>,
  options: { readonly description?: string } = {}
): Suite => ({ [SuiteTypeId]: SuiteTypeId, _tag: "Suite", name, tests, ...options })

/**
 * One runnable case: a test with its parameters fixed.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestCase {
  /** `<module>.<Suite>.<test>[.k=v…]`: the one source of truth for a test's identity. */
  readonly id: string
  readonly module: string
  /** The file it came from, absolute. */
  readonly file: string
  readonly suite: string | undefined
  readonly name: string
  readonly params: Params
  /** Whether the case has parameters (so `@{…}` selection applies). */
  readonly parametrized: boolean
  readonly spec: ClusterSpec
  readonly timeout: Duration.DurationInput | undefined
  readonly description: string
  /** Why it is ignored, if it is. */
  readonly ignored: string | undefined
  /**
   * Why it cannot run as declared (a bad cluster spec or timeout, an id another case already has), if so: the
   * runner reports it FAIL with this reason instead of running it.
   */
  readonly problem: string | undefined
  readonly body: Effect.Effect<unknown, unknown, TestServices>
}

/**
 * Escapes a parameter set into an id segment as ducktape does: `{"x":1,"y":"a b"}` → `x=1.y=ab`.
 *
 * @since 0.1.0
 * @category utils
 */
export const escapeParams: (params: Params) => string = internal.escapeParams

/**
 * Expands a declared test into its cases, in declaration order.
 *
 * @since 0.1.0
 * @category utils
 */
export const expand: (
  test: Test<any>,
  where: { readonly module: string; readonly file: string; readonly suite: string | undefined; readonly name: string },
  environment?: Readonly<Record<string, string | undefined>>
) => ReadonlyArray<TestCase> = internal.expand

/**
 * Whether a value is a declared test or suite (how discovery finds them among a module's exports).
 *
 * @since 0.1.0
 * @category guards
 */
export const isTest = (u: unknown): u is Test<any> => typeof u === "object" && u !== null && TestTypeId in u
/**
 * @see isTest
 *
 * @since 0.1.0
 * @category guards
 */
export const isSuite = (u: unknown): u is Suite => typeof u === "object" && u !== null && SuiteTypeId in u

/**
 * A test's own check failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class AssertionFailed extends Schema.TaggedError<AssertionFailed>()("AssertionFailed", {
  message: Schema.String
}) {}

/**
 * Fails the test with `message` unless `condition` holds.
 *
 * @since 0.1.0
 * @category utils
 */
export const check = (condition: boolean, message: string | (() => string)): Effect.Effect<void, AssertionFailed> =>
  condition ? Effect.void : Effect.fail(new AssertionFailed({ message: typeof message === "function" ? message() : message }))

/**
 * Fails the test unless `actual` equals `expected` (compared as JSON).
 *
 * @since 0.1.0
 * @category utils
 */
export const checkEqual = <A>(actual: A, expected: A, what = "value"): Effect.Effect<void, AssertionFailed> =>
  check(
    JSON.stringify(actual) === JSON.stringify(expected),
    () => `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`
  )

/**
 * Ends the test here as IGNORE, with `reason` in the reports: for a test that checks at run time for a capability
 * it needs (a kernel module, a package, a feature of the cluster) and should say it is missing rather than fail.
 * A defect, not a failure, so that a `catchAll` in the test cannot swallow it; services started so far are torn
 * down as after any test.
 *
 * @since 0.1.0
 * @category utils
 */
export const skip = (reason: string): Effect.Effect<never> => Effect.die(new internal.TestSkipped(reason))

/**
 * How `recordHistory` checks and judges a history.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordHistoryOptions<S> {
  /** The model to check the history with (`Linearizability.check`); not needed when `verdict` is given. */
  readonly model?: Model<S>
  /** A verdict already reached (the history is then not checked again). */
  readonly verdict?: Verdict
  /** Fail the test, with the counterexample as the message, when the verdict is Invalid. Default true. */
  readonly failOnInvalid?: boolean
}

/**
 * Attaches a workload's history to the test's results: checks it with `model` (unless `verdict` is given), writes
 * `histories/<name>.jsonl`, `<name>.faults.json` and `<name>.verdict.json` into the test's results directory, and
 * adds a summary to the test's result (report.json; report.html draws its lanes, latency and rate plots). A second
 * history of the same name is written as `<name>-2` (and so on), not over the first. The check runs as
 * `Linearizability.checkEffect` does, in slices. Fails the test when the verdict is Invalid, unless
 * `failOnInvalid: false`. Returns the verdict (undefined without a model).
 *
 * @since 0.1.0
 * @category utils
 */
export const recordHistory = <S>(
  name: string,
  result: { readonly history: History; readonly faults?: ReadonlyArray<WorkloadFaultRecord> },
  options: RecordHistoryOptions<S> = {}
): Effect.Effect<Verdict | undefined, AssertionFailed, TestContext> =>
  Effect.flatMap(TestContext, (ctx) =>
    Effect.flatMap(historyRecord.write(ctx.resultsDir, name, result, options.model, options.verdict), ({ verdict }) =>
      verdict?._tag === "Invalid" && options.failOnInvalid !== false
        ? Effect.fail(new AssertionFailed({ message: `history ${name}: ${formatVerdict(verdict, options.model)}` }))
        : Effect.succeed(verdict)))

/**
 * The summaries of the histories a test attached (read from its results directory; for runners and reports).
 *
 * @since 0.1.0
 * @category utils
 */
export const recordedHistories: (resultsDir: string) => ReadonlyArray<HistorySummary> = historyRecord.readSummaries
