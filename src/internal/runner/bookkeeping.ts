/**
 * A session's results as they come: each recorded the moment it is known (kept in memory for the reports, appended
 * to results.jsonl, announced to the terminal), and the session as it stands, for the reports written while it runs,
 * at its end, and by a process that must exit at once.
 */
import { Effect } from "effect"
import type * as Results from "../../Results.js"
import type * as R from "../../Runner.js"
import type { Job } from "./attempt.js"
import type { UncaughtError } from "./errors.js"
import type { RunState } from "./runState.js"
import { notRunResult, resultOf } from "./testResult.js"

/** What the bookkeeping of a session needs to know of it. */
export interface BookkeepingContext {
  readonly sessionId: string
  readonly sessionDir: string
  readonly startTime: number
  readonly options: R.RunOptions
  readonly clusterSize: number
  readonly maxParallel: number
  readonly deflake: number
  readonly state: RunState
  /** Writes a result to results.jsonl. */
  readonly append: (result: Results.TestResult) => void
  readonly emit: (event: R.RunEvent) => Effect.Effect<void>
}

/** The session's record of results. */
export const makeBookkeeping = (ctx: BookkeepingContext) => {
  const { options, state } = ctx
  // A plain array: only this session's fibers touch it, and a hard exit must read it synchronously.
  const recorded: Array<Results.TestResult> = []
  const record = (r: Results.TestResult) =>
    Effect.sync(() => {
      recorded.push(r)
      ctx.append(r)
    })
  const selectionOrder = new Map<string, number>()
  for (const [i, c] of options.cases.entries()) if (!selectionOrder.has(c.id)) selectionOrder.set(c.id, i)

  /** Announces a job's latest attempt; records its result unless it will be retried. */
  const finish = (job: Job, willRetry: boolean) => {
    const result = resultOf(job, ctx.sessionDir, ctx.deflake)
    return Effect.zipRight(willRetry ? Effect.void : record(result), ctx.emit({ _tag: "TestFinished", result, willRetry }))
  }

  /** Records and announces the result of something that did not run. */
  const immediate = (result: Results.TestResult) =>
    Effect.zipRight(record(result), ctx.emit({ _tag: "TestFinished", result, willRetry: false }))

  // No test to pin it on (the runner's own code, or a test's callback firing after it ended): the run fails all the
  // same, with a result of its own that says so.
  let strays = 0
  /** Records an uncaught exception while no test ran. */
  const stray = (error: UncaughtError) => {
    strays++
    const summary = `an uncaught exception while no test ran: ${error.error}`
    const identity = { testId: `ducktape.uncaught.${strays}`, module: "ducktape", name: `uncaught exception ${strays}`, params: {}, description: "", file: "", symbol: "" }
    return immediate(notRunResult(identity, "FAIL", summary, { tag: "UncaughtError", message: summary, detail: error.stack }))
  }

  /**
   * The session as it stands. Before the end, tests still running or waiting are listed as not run and the
   * session as interrupted: that is what the reports must say if the driver is killed before it can rewrite them.
   */
  const snapshotNow = (final: boolean): Results.SessionResults => {
    const rs = recorded
    const stopTime = Date.now()
    const waiting = state.pending.all().map((j) => j.testCase.id)
    const inFlight = final ? [] : [...state.running.keys()].map((j) => j.testCase.id)
    return {
      sessionId: ctx.sessionId,
      frameworkVersion: options.version ?? "0.0.0",
      startTime: ctx.startTime,
      stopTime,
      runTimeSeconds: (stopTime - ctx.startTime) / 1000,
      clusterNumNodes: ctx.clusterSize,
      parallelism: ctx.maxParallel,
      argv: options.argv ?? [],
      ...(options.rerun === undefined ? {} : { rerun: options.rerun }),
      interrupted: !final || state.interrupted || state.stopping !== undefined,
      notRun: [...new Set([...inFlight, ...waiting])],
      // Reports list tests in the order they were selected, not the order parallel runs happened to end.
      results: [...rs].sort((a, b) => (selectionOrder.get(a.testId) ?? -1) - (selectionOrder.get(b.testId) ?? -1))
    }
  }
  const snapshot = (final: boolean) => Effect.sync(() => snapshotNow(final))

  return { finish, immediate, stray, snapshotNow, snapshot }
}

/** A session's record of results (see makeBookkeeping). */
export type Bookkeeping = ReturnType<typeof makeBookkeeping>
