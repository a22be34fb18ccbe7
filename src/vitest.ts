/**
 * Running ducktape-effect tests from vitest: the same `Test.make` bodies and `Test.suite`s, run by the runner on
 * a cluster Layer, so services, timeouts, teardown, collected logs and data.json behave exactly as under
 * `ducktape run`. A failed case fails the vitest test with its message and its results directory.
 *
 * ```ts
 * import { systemTest } from "ducktape-effect/vitest"
 * systemTest("serves", { cluster: Cluster.localhost({ numNodes: 3 }) }, MyTest)
 * ```
 *
 * With `@effect/vitest`, `run` is an Effect needing a `Cluster`: `layer(Cluster.localhost(…))((it) =>
 * it.live("…", () => run(MyTest)))`.
 *
 * @since 0.1.0
 */
import * as NodePath from "node:path"
import { Duration, Effect, Schema } from "effect"
import type { Layer } from "effect"
import { Cluster } from "./Cluster.js"
import * as Discovery from "./Discovery.js"
import type { TestResult } from "./Results.js"
import * as Runner from "./Runner.js"
import * as Test from "./Test.js"

/**
 * What `run` accepts: a declared test, a suite (all its tests), or a bare body (given the whole cluster).
 *
 * @since 0.1.0
 * @category models
 */
export type Runnable = Test.Test<any> | Test.Suite | Test.Body<{}>

/**
 * How to run.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** The test's name in its id, for a bare body. Default: the current vitest test's name. */
  readonly name?: string
  /** Where session directories go, as `--results-root`. Default `./results`. */
  readonly resultsRoot?: string
  /** Timeout of each case that does not declare its own. Default 5 minutes. */
  readonly testTimeout?: Duration.DurationInput
  readonly globals?: Readonly<Record<string, unknown>>
  /** Copy each test's log lines to stderr as well. */
  readonly debug?: boolean
}

/**
 * One or more cases of a system test failed; each one's results directory holds its logs.
 *
 * @since 0.1.0
 * @category errors
 */
export class SystemTestFailed extends Schema.TaggedError<SystemTestFailed>()("SystemTestFailed", {
  failures: Schema.Array(Schema.Struct({
    testId: Schema.String,
    summary: Schema.String,
    /** The failure's cause, with the stack into the test body. */
    detail: Schema.String,
    resultsDir: Schema.String
  }))
}) {
  override get message(): string {
    // The stack frames of the cause point into the test body; vitest would otherwise only show this file.
    const frames = (detail: string) => detail.split("\n").filter((l) => /^\s+at /.test(l)).slice(0, 6).map((l) => `\n    ${l.trim()}`)
    return this.failures.map((f) => `${f.testId}: ${f.summary}\n  results: ${f.resultsDir}${frames(f.detail).join("")}`).join("\n")
  }
}

const defaultTestTimeout = Duration.minutes(5)

/**
 * vitest, when this module runs inside a vitest worker. vitest throws when it is imported anywhere else, and this
 * module must load in plain `node` too (the package's entries are checked that way, and `run` needs no vitest).
 */
const vitest = "__vitest_worker__" in globalThis ? await import("vitest") : undefined

const requireVitest = (what: string) => {
  if (vitest === undefined) throw new Error(`${what} works inside vitest only: run this file with \`vitest\``)
  return vitest
}

/** Where the current vitest test lives and what it is called (outside a test: the process's entry file). */
const currentTest = () => {
  if (vitest === undefined) return { file: process.argv[1] ?? "node", name: "test" }
  const state = vitest.expect.getState()
  return { file: state.testPath ?? process.argv[1] ?? "vitest", name: state.currentTestName ?? "test" }
}

/** The cases of a runnable; a bare body asks for `wholeCluster` nodes. */
const casesOf = (runnable: Runnable, options: RunOptions, wholeCluster: number): ReadonlyArray<Test.TestCase> => {
  const here = currentTest()
  const where = { module: Discovery.moduleName(here.file), file: NodePath.resolve(here.file) }
  if (Test.isSuite(runnable)) {
    return Object.entries(runnable.tests).flatMap(([name, test]) => Test.expand(test, { ...where, suite: runnable.name, name }))
  }
  const test = Test.isTest(runnable) ? runnable : Test.make({ cluster: wholeCluster }, runnable)
  return Test.expand(test, { ...where, suite: undefined, name: options.name ?? here.name })
}

/**
 * What `run` returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunResult {
  /** The session directory; each result's `resultsDir` is relative to it. */
  readonly sessionDir: string
  /** One per case, in the order they finished; a case's returned value is its `data`. */
  readonly results: ReadonlyArray<TestResult>
}

/**
 * Runs every case through the runner on the Cluster in context (one session under `resultsRoot`, cases one after
 * another) and returns their results. Fails if any case failed.
 *
 * @since 0.1.0
 * @category utils
 */
export const run = (
  runnable: Runnable,
  options: RunOptions = {}
): Effect.Effect<RunResult, SystemTestFailed | Runner.ResultsDirError, Cluster> =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const session = yield* Runner.run({
      cases: casesOf(runnable, options, cluster.size),
      resultsRoot: options.resultsRoot ?? "results",
      testTimeout: options.testTimeout ?? defaultTestTimeout,
      ...(options.globals === undefined ? {} : { globals: options.globals }),
      ...(options.debug === undefined ? {} : { debug: options.debug })
    })
    const results = session.results.results
    const failed = results.filter((r) => r.status === "FAIL")
    if (failed.length > 0) {
      return yield* new SystemTestFailed({
        failures: failed.map((r) => ({
          testId: r.testId,
          summary: r.summary,
          detail: r.failure?.detail ?? "",
          resultsDir: NodePath.join(session.dir, r.resultsDir)
        }))
      })
    }
    return { sessionDir: session.dir, results }
  })

/**
 * Options of `systemTest`: `run`'s, and the cluster to run on.
 *
 * @since 0.1.0
 * @category models
 */
export interface SystemTestOptions extends RunOptions {
  /** The cluster, built for this test and closed after it, e.g. `Cluster.localhost({ numNodes: 3 })`. */
  readonly cluster: Layer.Layer<Cluster, unknown>
}

/**
 * Declares a vitest test that runs a system test on its own cluster. vitest's timeout is the sum of the cases'
 * timeouts plus a minute, so that a case's own timeout (which tears its services down) always fires first; an
 * abort from vitest (Ctrl-C) interrupts the run, which still tears down. A test whose cases are all ignored is
 * skipped.
 *
 * @since 0.1.0
 * @category utils
 */
export const systemTest = (name: string, options: SystemTestOptions, runnable: Runnable): void => {
  const perCase = options.testTimeout ?? defaultTestTimeout
  const budget = casesOf(runnable, { ...options, name }, 1).reduce(
    (total, c) => Duration.sum(total, c.timeout ?? perCase),
    Duration.minutes(1)
  )
  requireVitest("systemTest").it(name, async (context) => {
    const { results } = await Effect.runPromise(
      run(runnable, { ...options, name }).pipe(Effect.provide(options.cluster)),
      { signal: context.signal }
    )
    if (results.length > 0 && results.every((r) => r.status === "IGNORE")) context.skip()
  }, Duration.toMillis(budget))
}
