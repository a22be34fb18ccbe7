/**
 * The scheduling loop of a run: it starts the largest waiting test that fits the free nodes, up to --max-parallel,
 * each attempt in a fiber of its own; takes each result as it comes (a failure goes back to the queue under
 * --deflake); starts no more tests once the run is stopping; and, when the run is interrupted, stops the running
 * tests and still records what they did.
 */
import { Deferred, Effect, Fiber, Queue } from "effect"
import * as ClusterModule from "../../Cluster.js"
import type * as R from "../../Runner.js"
import { type Attempt, brokenAttempt, type Job, runAttempt, type SessionContext } from "./attempt.js"
import type { Bookkeeping } from "./bookkeeping.js"
import { returnNodes } from "./nodeHealth.js"
import type { RunState } from "./runState.js"
import { attemptDir } from "./session/sessionFiles.js"
import { identityOf, notRunResult } from "./testResult.js"

/** What the loop works with: the run's state, passed to each step, and the session around it. */
export interface LoopContext {
  readonly state: RunState
  readonly session: SessionContext
  readonly pool: ClusterModule.Pool
  readonly book: Bookkeeping
  readonly emit: (event: R.RunEvent) => Effect.Effect<void>
  /** After each result: the reports rewritten while the run goes (see reportRewriter.ts). */
  readonly rewriteReports: Effect.Effect<void>
  readonly sessionDir: string
  readonly maxParallel: number
  readonly deflake: number
  /** --repeat's count. */
  readonly runs: number
}

/** Starts the next attempt of `job` on `nodes`, in a fiber of its own that offers its attempt to `state.done`. */
const start = (ctx: LoopContext, job: Job, nodes: ReadonlyArray<ClusterModule.ClusterNode>) =>
  Effect.gen(function*() {
    const { options } = ctx.session
    const allocatedAt = Date.now()
    const attemptNo = job.attempts.length + 1
    const dir = attemptDir(ctx.sessionDir, job.testCase.id, job.run, attemptNo, ctx.runs > 1 || ctx.deflake > 1)
    const attempt = Effect.zipRight(
      // In the test's own fiber: a slow event handler must not hold up the scheduler, nor Ctrl-C.
      ctx.emit({ _tag: "TestStarted", testId: job.testCase.id, attempt: attemptNo, nodes: nodes.map((n) => n.name) }),
      runAttempt(job.testCase, nodes, dir, attemptNo, ctx.session)
    ).pipe(
      // The runner's own failure (its results directory cannot be made, say) fails the test; it must never
      // leave the loop waiting for a result that will not come.
      Effect.catchAllCause((cause) => Effect.succeed(brokenAttempt(cause, dir, nodes)))
    )
    const fiber = yield* attempt.pipe(
      // A fork inherits the uninterruptible region of `fill`; the test itself must stay interruptible.
      Effect.interruptible,
      // Nodes go back before the result is announced: the loop may schedule the next test on them at once.
      // Under --no-teardown they stay taken: what the test left running there must not be cleaned away by the
      // next test's services.
      // Interruptible like the test (this fiber was forked from uninterruptible `fill`): the check's timeout must fire.
      Effect.tap((a) => options.noTeardown === true ? Effect.void : Effect.interruptible(returnNodes(ctx, nodes, a.status === "FAIL"))),
      Effect.map((a): Attempt => ({ ...a, allocatedAt, releasedAt: Date.now() })),
      Effect.onInterrupt(() => Effect.sync(() => options.noTeardown === true ? undefined : ctx.pool.giveBack(nodes))),
      Effect.tap((a) => Queue.offer(ctx.state.done, { job, attempt: a })),
      Effect.asVoid,
      Effect.forkDaemon
    )
    ctx.state.running.set(job, fiber)
  })

// Starts waiting tests that fit now, up to --max-parallel. Nodes are taken synchronously (no Effect per
// decision: 10,000 tests schedule in milliseconds); uninterruptible so that nodes taken always reach their fiber.
const fill = (ctx: LoopContext) =>
  Effect.gen(function*() {
    while (ctx.state.running.size < ctx.maxParallel) {
      const next = ctx.state.pending.takeFirst(ctx.pool.tryTake)
      if (next === undefined) return
      yield* start(ctx, next.job, next.taken)
    }
  }).pipe(Effect.uninterruptible)

/** Nodes were taken out of the run and nothing runs: what still waits cannot fit on the nodes left. */
const failWhatNoLongerFits = (ctx: LoopContext) =>
  Effect.gen(function*() {
    const { lostNodes, pending } = ctx.state
    const summary = (spec: ClusterModule.ClusterSpec) =>
      `the test needs ${ClusterModule.describeSpec(spec)}, more than the nodes left after ${lostNodes.join(", ")} ` +
      `stopped answering and were taken out of the run; check those nodes, and rerun the failed tests`
    for (let next = pending.takeFirst((spec) => spec); next !== undefined; next = pending.takeFirst((spec) => spec)) {
      // A --deflake retry that cannot run ends with the failure it had.
      if (next.job.attempts.length > 0) {
        yield* ctx.book.finish(next.job, false)
        continue
      }
      const why = summary(next.taken)
      yield* ctx.book.immediate(notRunResult(identityOf(next.job.testCase), "FAIL", why, { tag: "Unschedulable", message: why, detail: "" }))
    }
  })

/** The run starts no more tests, and says why. */
const stopStarting = (ctx: LoopContext, reason: string) => {
  ctx.state.stopping = reason
  return ctx.emit({ _tag: "Stopping", reason })
}

/** Takes the next attempt that ended: records it, or queues the test again when --deflake allows a retry. */
const takeResult = (ctx: LoopContext) =>
  Effect.gen(function*() {
    const { state } = ctx
    const { attempt, job } = yield* Queue.take(state.done)
    state.running.delete(job)
    const attempts = [...job.attempts, attempt]
    const next: Job = { ...job, attempts }
    const retry = attempt.status === "FAIL" && attempts.length < ctx.deflake && state.stopping === undefined
    yield* ctx.book.finish(next, retry)
    yield* ctx.rewriteReports
    if (retry) state.pending.unshift(next)
    if (attempt.status === "FAIL" && !retry && ctx.session.options.exitFirst === true && state.stopping === undefined) {
      yield* stopStarting(ctx, "--exit-first: a test failed")
    }
  })

/** Runs every waiting test, until none waits and none runs (or, stopping, until none runs). */
export const runLoop = (ctx: LoopContext) =>
  Effect.gen(function*() {
    const { state } = ctx
    while (state.pending.size > 0 || state.running.size > 0) {
      if (state.stopping === undefined) yield* fill(ctx)
      if (state.running.size === 0) {
        if (state.pending.size > 0 && state.stopping === undefined && state.lostNodes.length > 0) {
          yield* failWhatNoLongerFits(ctx)
          break
        }
        if (state.pending.size > 0 && state.stopping === undefined && ctx.session.options.noTeardown === true) {
          yield* stopStarting(
            ctx,
            `--no-teardown keeps each test's nodes for what it left running: ${state.pending.size} test(s) ` +
              `did not fit on the rest; run them on their own or on a bigger cluster`
          )
        }
        break
      }
      yield* takeResult(ctx)
    }
  })

/** When the loop is interrupted: stops the running tests, waits for their teardown, and records their attempts. */
export const stopRunning = (ctx: LoopContext) =>
  Effect.gen(function*() {
    const { state } = ctx
    state.interrupted = true
    yield* ctx.emit({ _tag: "Stopping", reason: "interrupted: stopping running tests and tearing them down" })
    // Running tests are stopped; their scopes stop services and collect logs, and each still reports its
    // result, before the reports are written.
    yield* Deferred.succeed(state.abort, undefined)
    yield* Effect.forEach([...state.running.values()], Fiber.await, { concurrency: "unbounded", discard: true })
    for (const { attempt, job } of yield* Queue.takeAll(state.done)) yield* ctx.book.finish({ ...job, attempts: [...job.attempts, attempt] }, false)
  })
