/**
 * A session, composed: its directory and files, the run's state and bookkeeping, the selection admitted, the
 * scheduling loop run under the uncaught-exception guard, and the final reports written however the loop ended.
 * Each job lives in a module of its own; this one only puts them in order.
 */
import { Effect } from "effect"
import * as Clean from "../../Clean.js"
import * as ClusterModule from "../../Cluster.js"
import { Cluster } from "../../Cluster.js"
import * as RemoteAccount from "../../RemoteAccount.js"
import * as Report from "../../Report.js"
import type * as Results from "../../Results.js"
import type * as R from "../../Runner.js"
import { writeAllSync } from "../report/report.js"
import { labelFor } from "../shared/sessionLabels.js"
import { admit, expandRuns } from "./admission.js"
import { frozenCopy, type SessionContext } from "./attempt.js"
import { type Bookkeeping, makeBookkeeping } from "./bookkeeping.js"
import { makeReportRewriter } from "./session/reportRewriter.js"
import { makeRunState } from "./runState.js"
import { type LoopContext, runLoop, stopRunning } from "./schedulingLoop.js"
import { createSessionDir, openSessionFiles } from "./session/sessionFiles.js"
import { makeUncaughtGuard } from "./uncaught.js"

export { createSessionDir } from "./session/sessionFiles.js"

/** @internal */
export const run = (options: R.RunOptions) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const { dir: sessionDir, id: sessionId } = yield* createSessionDir(options.resultsRoot ?? "results")
    const files = openSessionFiles(sessionDir)
    const emit = (event: R.RunEvent) => Effect.zipRight(files.log(event), options.onEvent?.(event) ?? Effect.void)
    // All tests share one process: each gets the same globals, frozen, so that none can change what the next reads.
    const globals = frozenCopy(options.globals ?? {}) as Readonly<Record<string, unknown>>
    const maxParallel = Math.max(1, options.maxParallel ?? 1)
    const deflake = Math.max(1, options.deflake ?? 1)
    const runs = Math.max(1, options.repeat ?? 1)
    const startTime = Date.now()
    const state = yield* makeRunState
    const book = makeBookkeeping({
      sessionId, sessionDir, startTime, options, clusterSize: cluster.size, maxParallel, deflake, state, append: files.append, emit
    })
    // Callbacks from outside any fiber (an uncaught exception) run their Effects on the session's own runtime.
    const runtime = yield* Effect.runtime<never>()

    const cases = expandRuns(options.cases, runs)
    const total = cases.length + (options.loadFailures?.length ?? 0)
    // What crashed sessions left on these nodes would break this one: remove it first, and say so.
    const leftovers = yield* Clean.clean(cluster.all)
    if (leftovers.length > 0) yield* emit({ _tag: "LeftoversRemoved", leftovers })
    yield* emit({ _tag: "SessionStarted", sessionId, resultsDir: sessionDir, total })
    if (options.onStarted !== undefined) {
      yield* options.onStarted({ dir: sessionDir, writeReportsSync: () => void writeAllSync(sessionDir, book.snapshotNow(false)) })
    }
    yield* admit({ cluster, book, state }, cases, options.loadFailures ?? [])

    // An exception thrown outside any Effect would end the process, and the run with it, without a report. For the
    // life of the run it fails the tests running instead (see UncaughtError); with none running, it is a FAIL result
    // of its own.
    const uncaught = makeUncaughtGuard(runtime, book.stray)
    const session: SessionContext = { id: sessionId, options, globals, abort: state.abort, uncaughtListeners: uncaught.listeners }
    const rewriter = makeReportRewriter(sessionDir, book.snapshot(false))
    const loop: LoopContext = {
      state, session, pool: cluster[ClusterModule.PoolTypeId], book, emit, rewriteReports: rewriter.rewrite, sessionDir, maxParallel, deflake, runs
    }

    // A plain variable: only this fiber and its finalizers touch it.
    let concluded: Results.SessionResults | undefined
    yield* runLoop(loop).pipe(
      RemoteAccount.withSessionLabel(labelFor(sessionId)),
      Effect.onInterrupt(() => stopRunning(loop)),
      Effect.ensuring(
        Effect.flatMap(conclude(sessionDir, book, rewriter.settle, files.close), (results) => {
          concluded = results
          return options.onConcluded?.({ results, dir: sessionDir }) ?? Effect.void
        })
      ),
      uncaught.guarding
    )
    // The finalizer above always ran: a session that got here was concluded.
    return { results: concluded!, dir: sessionDir } satisfies R.Session
  })

/** The session's end, however the loop ended: no report rewrite left in flight, its files closed, its reports written. */
const conclude = (sessionDir: string, book: Bookkeeping, settleRewrites: Effect.Effect<void>, closeFiles: Effect.Effect<void>) =>
  Effect.gen(function*() {
    yield* settleRewrites
    const session = yield* book.snapshot(true)
    yield* closeFiles
    yield* Report.writeAll(sessionDir, session).pipe(
      Effect.catchAll((e) => Effect.logError(`could not write reports: ${e.message}`))
    )
    return session
  })
