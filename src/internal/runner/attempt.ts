/**
 * One attempt of one test: its results directory, sub-cluster, services, fault log and log files; its body run
 * under the test's timeout, the run's Ctrl-C and the process's uncaught exceptions; its scope closed (services torn
 * down, faults healed); and the attempt judged — PASS, FAIL or IGNORE, and why.
 */
import * as NodeFsP from "node:fs/promises"
import * as NodePath from "node:path"
import { Cause, Deferred, Duration, Effect, Exit, Logger, LogLevel, Option } from "effect"
import * as ClusterModule from "../../Cluster.js"
import { Cluster } from "../../Cluster.js"
import type * as Results from "../../Results.js"
import type * as R from "../../Runner.js"
import * as Service from "../../Service.js"
import type { TestCase } from "../../Test.js"
import { TestContext } from "../../TestContext.js"
import * as ReportFormat from "../report/reportFormat.js"
import * as Faults from "../service/faultLog.js"
import { ServiceRegistry } from "../service/registry.js"
import { skippedReason } from "../test/test.js"
import { RunInterrupted, TestTimeout, type UncaughtError } from "./errors.js"
import { capped, describeCause, type Failure } from "./failure.js"
import { testLogger } from "./testLog.js"
import { tracked } from "./trackedNodes.js"
import type { UncaughtListener } from "./uncaught.js"

const defaultTestTimeout = Duration.minutes(30)

/** How one attempt of a test ended. */
export interface Attempt {
  /** IGNORE: the test ended itself with Test.skip. */
  readonly status: "PASS" | "FAIL" | "IGNORE"
  readonly summary: string
  readonly failure: Failure | undefined
  readonly data: unknown
  readonly startTime: number
  readonly stopTime: number
  readonly resultsDir: string
  /** The names of the nodes it was given. */
  readonly nodes: ReadonlyArray<string>
  readonly nodesUsed: number
  readonly services: ReadonlyArray<Results.ServiceSummary>
  readonly faults: ReadonlyArray<Results.FaultRecord>
  /** When the scheduler gave it its nodes and took them back (set by `start`). */
  readonly allocatedAt?: number
  readonly releasedAt?: number
}

/** One run (of --repeat) of a test case, and its attempts so far (--deflake). */
export interface Job {
  readonly testCase: TestCase
  readonly run: number
  readonly attempts: ReadonlyArray<Attempt>
}

/** What every attempt of a run shares. */
export interface SessionContext {
  readonly id: string
  readonly options: R.RunOptions
  /** Frozen plain data (see frozenCopy). */
  readonly globals: Readonly<Record<string, unknown>>
  /** Completed when the run is interrupted: running bodies stop. */
  readonly abort: Deferred.Deferred<void>
  /** The attempts running now, told of an uncaught exception. */
  readonly uncaughtListeners: Set<UncaughtListener>
}

/**
 * A frozen copy of plain data (objects and arrays, as --globals' JSON gives): tests share one process, and none may
 * change what the next one reads. Anything else (a class instance, a Buffer, a Map, a function) is passed as it is:
 * freezing it would break it, and it is the caller's own object.
 */
export const frozenCopy = (value: unknown): unknown => {
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy))
  if (typeof value === "object" && value !== null) {
    const proto = Object.getPrototypeOf(value)
    if (proto === Object.prototype || proto === null) {
      return Object.freeze(Object.fromEntries(Object.entries(value).map(([k, v]) => [k, frozenCopy(v)])))
    }
  }
  return value
}

/** What a finished attempt is judged on: how its body ended, and what the run saw of it. */
interface Finished {
  readonly exit: Exit.Exit<unknown, unknown>
  readonly startTime: number
  readonly stopTime: number
  /** The first uncaught exception while the test ran, its teardown included. */
  readonly uncaught: UncaughtError | undefined
  readonly bodyTime: number
  readonly timeout: Duration.DurationInput
  /** Its services, torn down by now, with what went wrong in their teardown. */
  readonly registry: Service.ServiceRegistry
  readonly faults: Faults.FaultLog
  readonly nodes: ReadonlyArray<ClusterModule.ClusterNode>
  readonly nodesUsed: number
  readonly dir: string
}

/** Why the test failed, if it did: its body, or else the first thing a passing body can still fail on. */
const failureOf = (f: Finished, options: R.RunOptions): Failure | undefined => {
  const { bodyTime, exit, nodes, nodesUsed, timeout, uncaught } = f
  const problems = f.registry.records.flatMap((r) => r.problems.map((p) => `${r.id}: ${p}`))
  // A body that waits is interrupted at its limit; one that finished a little after it (a timer late under load)
  // did not block. The slack: a tenth of the limit, at most a second.
  const limit = Duration.toMillis(Duration.decode(timeout))
  return Exit.isFailure(exit)
    ? describeCause(exit.cause, options.debug === true)
    : uncaught !== undefined
    ? { tag: "UncaughtError", message: uncaught.message, detail: uncaught.stack }
    : bodyTime > limit + Math.min(1_000, limit / 10)
    // A timeout interrupts a test where it waits; code that never waits (a busy loop, a synchronous call) cannot
    // be interrupted, and ran to its end. It still broke its time limit.
    ? {
      tag: "TestTimeout",
      message: `the test ran for ${(bodyTime / 1000).toFixed(1)}s, past its timeout of ${Duration.format(Duration.decode(timeout))}: ` +
        `it did not yield while it ran (blocking code), so it could not be stopped in time, and it held up every test beside it`,
      detail: ""
    }
    : problems.length > 0
    ? { tag: "TeardownFailed", message: `the test passed but teardown failed: ${problems.join("; ")}`, detail: problems.join("\n") }
    : options.failBadClusterUtilization === true && nodesUsed < nodes.length
    ? { tag: "ClusterUtilization", message: `the test declared ${nodes.length} nodes but used at most ${nodesUsed}; declare fewer`, detail: "" }
    : undefined
}

/** The attempt a finished test makes: judged, its data saved as data.json, a long failure kept whole in its directory. */
const judge = (f: Finished, options: R.RunOptions) =>
  Effect.gen(function*() {
    const { dir, exit, registry } = f
    const skipped = Exit.isFailure(exit) ? Option.getOrUndefined(Option.map(Cause.dieOption(exit.cause), skippedReason)) : undefined
    const failure = skipped !== undefined ? undefined : failureOf(f, options)
    const data = Exit.isSuccess(exit) ? exit.value : undefined
    if (data !== undefined) {
      yield* Effect.promise(() =>
        NodeFsP.writeFile(NodePath.join(dir, "data.json"), ReportFormat.stringify(data, 2) ?? "null").catch(() => undefined)
      )
    }
    const kept = failure === undefined ? undefined : capped(failure, dir)
    return {
      status: skipped !== undefined && kept === undefined ? "IGNORE" : kept === undefined ? "PASS" : "FAIL",
      summary: skipped !== undefined && kept === undefined ? `skipped: ${skipped}` : kept?.message ?? "Test Passed",
      failure: kept,
      data,
      startTime: f.startTime,
      stopTime: f.stopTime,
      resultsDir: dir,
      nodes: f.nodes.map((n) => n.name),
      nodesUsed: f.nodesUsed,
      services: registry.records.map((r) => ({
        id: r.id,
        name: r.name,
        nodes: r.nodes,
        startedAt: r.startedAt,
        ...(r.stoppedAt === undefined ? {} : { stoppedAt: r.stoppedAt }),
        problems: r.problems,
        notes: r.notes
      })),
      faults: f.faults.records
    } satisfies Attempt
  })

/** Runs one attempt of `testCase` on `nodes`, its results in `dir`. */
export const runAttempt = (
  testCase: TestCase,
  nodes: ReadonlyArray<ClusterModule.ClusterNode>,
  dir: string,
  attempt: number,
  session: SessionContext
) =>
  Effect.gen(function*() {
    yield* Effect.promise(() => NodeFsP.mkdir(dir, { recursive: true }))
    const startTime = Date.now()
    const touched = new Set<string>()
    const sub = yield* ClusterModule.make(tracked(nodes, touched))
    const registry = Service.makeRegistry(dir, { noTeardown: session.options.noTeardown === true, jvmLogs: session.options.enableJvmLogs === true })
    const faults = Faults.makeLog()
    const { close, logger } = testLogger(dir, session.options.debug === true)
    const context: TestContext = {
      testId: testCase.id,
      suite: testCase.suite,
      name: testCase.name,
      params: testCase.params,
      description: testCase.description,
      sessionId: session.id,
      resultsDir: dir,
      attempt,
      globals: session.globals,
      cluster: sub
    }
    const timeout = testCase.timeout ?? session.options.testTimeout ?? defaultTestTimeout
    let bodyStart = 0
    let bodyTime = 0
    // One uncaught exception while the test runs, its teardown included, fails it; one during the body stops it.
    let uncaught: UncaughtError | undefined
    const uncaughtInBody = yield* Deferred.make<never, UncaughtError>()
    const listener: UncaughtListener = (e) => {
      uncaught ??= e
      Deferred.unsafeDone(uncaughtInBody, Exit.fail(e))
    }
    session.uncaughtListeners.add(listener)
    const exit = yield* Effect.suspend(() => {
      bodyStart = Date.now()
      return testCase.body
    }).pipe(
      Effect.tap(() => Effect.logInfo("test body finished; tearing down")),
      Effect.ensuring(Effect.sync(() => (bodyTime = Date.now() - bodyStart))),
      // An interrupted run stops the body (the race interrupts it) but still records it.
      (body) => Effect.raceFirst(body, Effect.zipRight(Deferred.await(session.abort), Effect.fail(new RunInterrupted()))),
      (body) => Effect.raceFirst(body, Deferred.await(uncaughtInBody)),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new TestTimeout({ testId: testCase.id, timeout: Duration.format(Duration.decode(timeout)) })
      }),
      // The test's own scope: services it starts are torn down and faults healed here, before the result is final.
      // It closes outside the race and the timeout, so that neither, landing while a teardown already runs (the body
      // just finished), can cut that teardown short; each step of a teardown has its own time limit.
      Effect.scoped,
      Effect.provideService(TestContext, context),
      Effect.provideService(Cluster, sub),
      Effect.provideService(ServiceRegistry, registry),
      Effect.provideService(Faults.FaultLog, faults),
      Effect.annotateLogs({ test: testCase.id }),
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Effect.exit,
      Effect.ensuring(Effect.sync(() => session.uncaughtListeners.delete(listener)))
    )
    yield* close
    const stopTime = Date.now()
    const nodesUsed = Math.max(yield* sub.maxUsed, touched.size)
    return yield* judge(
      { exit, startTime, stopTime, uncaught, bodyTime, timeout, registry, faults, nodes, nodesUsed, dir },
      session.options
    )
  })

/** An attempt the runner itself could not carry out, as a failure of the test. */
export const brokenAttempt = (cause: Cause.Cause<unknown>, dir: string, nodes: ReadonlyArray<ClusterModule.ClusterNode>): Attempt => {
  const now = Date.now()
  const failure = describeCause(cause)
  return {
    status: "FAIL",
    summary: `the runner could not run the test: ${failure.message}`,
    failure,
    data: undefined,
    startTime: now,
    stopTime: now,
    resultsDir: dir,
    nodes: nodes.map((n) => n.name),
    nodesUsed: 0,
    services: [],
    faults: []
  }
}
