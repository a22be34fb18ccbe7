import * as NodePath from "node:path"
import { Deferred, Effect, Fiber, Queue } from "effect"
import * as Clean from "../../Clean.js"
import * as ClusterModule from "../../Cluster.js"
import { Cluster } from "../../Cluster.js"
import * as RemoteAccount from "../../RemoteAccount.js"
import * as Report from "../../Report.js"
import * as Scheduler from "./scheduler.js"
import * as Results from "../../Results.js"
import type * as R from "../../Runner.js"
import type { TestCase } from "../../Test.js"
import { writeAllSync } from "../report/report.js"
import { createSessionDir, openSessionFiles, safeDirName } from "./sessionFiles.js"
import { checkNodes } from "./nodeHealth.js"
import { makeReportRewriter } from "./reportRewriter.js"
import { makeUncaughtGuard } from "./uncaught.js"
import { type Attempt, brokenAttempt, frozenCopy, type Job, runAttempt, type SessionContext } from "./attempt.js"
import { labelFor } from "../shared/sessionLabels.js"
import { identityOf, notRunResult, resultOf } from "./testResult.js"

export { createSessionDir } from "./sessionFiles.js"

// ---------------------------------------------------------------------------------------------------------
// The session
// ---------------------------------------------------------------------------------------------------------

/** @internal */
export const run = (options: R.RunOptions) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const pool = cluster[ClusterModule.PoolTypeId]
    const { dir: sessionDir, id: sessionId } = yield* createSessionDir(options.resultsRoot ?? "results")
    const files = openSessionFiles(sessionDir)
    const emit = (event: R.RunEvent) => Effect.zipRight(files.log(event), options.onEvent?.(event) ?? Effect.void)
    // All tests share one process: each gets the same globals, frozen, so that none can change what the next reads.
    const globals = frozenCopy(options.globals ?? {}) as Readonly<Record<string, unknown>>
    const maxParallel = Math.max(1, options.maxParallel ?? 1)
    const deflake = Math.max(1, options.deflake ?? 1)
    const startTime = Date.now()
    // A plain array: only this session's fibers touch it, and a hard exit must read it synchronously.
    const recorded: Array<Results.TestResult> = []
    const record = (r: Results.TestResult) =>
      Effect.sync(() => {
        recorded.push(r)
        files.append(r)
      })
    // Callbacks from outside any fiber (an uncaught exception) run their Effects on the session's own runtime.
    const runtime = yield* Effect.runtime<never>()

    const selectionOrder = new Map<string, number>()
    for (const [i, c] of options.cases.entries()) if (!selectionOrder.has(c.id)) selectionOrder.set(c.id, i)
    const runs = Math.max(1, options.repeat ?? 1)
    const cases = Array.from({ length: runs }, (_, k) => options.cases.map((testCase) => ({ testCase, run: k + 1 }))).flat()
    const total = cases.length + (options.loadFailures?.length ?? 0)
    // What crashed sessions left on these nodes would break this one: remove it first, and say so.
    const leftovers = yield* Clean.clean(cluster.all)
    if (leftovers.length > 0) yield* emit({ _tag: "LeftoversRemoved", leftovers })
    yield* emit({ _tag: "SessionStarted", sessionId, resultsDir: sessionDir, total })
    if (options.onStarted !== undefined) {
      yield* options.onStarted({ dir: sessionDir, writeReportsSync: () => void writeAllSync(sessionDir, snapshotNow(false)) })
    }

    const dirFor = (t: TestCase, run: number, attempt: number) =>
      NodePath.join(sessionDir, safeDirName(t.id), runs > 1 || deflake > 1 ? `${run}${attempt > 1 ? `-attempt${attempt}` : ""}` : "")

    const finish = (job: Job, willRetry: boolean) => {
      const result = resultOf(job, sessionDir, deflake)
      return Effect.zipRight(willRetry ? Effect.void : record(result), emit({ _tag: "TestFinished", result, willRetry }))
    }

    const immediate = (result: Results.TestResult) =>
      Effect.zipRight(record(result), emit({ _tag: "TestFinished", result, willRetry: false }))

    // Load failures are failed tests, never silently skipped.
    for (const f of options.loadFailures ?? []) {
      const summary = `could not load ${f.file}: ${f.error}`
      const identity = {
        testId: f.module,
        module: f.module,
        name: NodePath.basename(f.file),
        params: {},
        description: "",
        file: NodePath.relative(process.cwd(), f.file) || f.file,
        symbol: f.symbol
      }
      yield* immediate(notRunResult(identity, "FAIL", summary, { tag: "LoadError", message: summary, detail: f.error }))
    }

    // Largest first; smaller tests fill the gaps a big one leaves.
    const pending = new Scheduler.PendingQueue<Job>((job) => job.testCase.spec)
    for (const c of cases) {
      if (c.testCase.problem !== undefined) {
        const summary = `the test cannot run as declared: ${c.testCase.problem}`
        yield* immediate(notRunResult(identityOf(c.testCase), "FAIL", summary, { tag: "InvalidTest", message: summary, detail: "" }))
      } else if (c.testCase.ignored !== undefined) {
        yield* immediate(notRunResult(identityOf(c.testCase), "IGNORE", `ignored: ${c.testCase.ignored}`))
      } else if (!cluster.fitsEver(c.testCase.spec)) {
        const spec = c.testCase.spec
        const types = [...new Set(ClusterModule.normalize(spec).flatMap((g) => (g.nodeType === undefined ? [] : [g.nodeType])))]
        const have = `the whole cluster has ${ClusterModule.describeSpec(cluster.all.map((n) => ({ numNodes: 1, ...(n.nodeType === undefined ? {} : { nodeType: n.nodeType }) })))}`
        const fix = types.length > 0
          // Localhost nodes have no type: only a cluster file gives nodes one.
          ? `run it on a cluster whose file gives enough nodes "node_type": ${types.map((t) => JSON.stringify(t)).join(" / ")} (--cluster-file)`
          : `run it on a bigger cluster (e.g. --cluster localhost:${ClusterModule.specSize(spec)})`
        const summary = `the test needs ${ClusterModule.describeSpec(spec)} but ${have}; ${fix}`
        yield* immediate(notRunResult(identityOf(c.testCase), "FAIL", summary, { tag: "Unschedulable", message: summary, detail: "" }))
      } else pending.push({ testCase: c.testCase, run: c.run, attempts: [] })
    }

    const done = yield* Queue.unbounded<{ job: Job; attempt: Attempt }>()
    const running = new Map<Job, Fiber.RuntimeFiber<void>>()
    const abort = yield* Deferred.make<void>()
    let stopping: string | undefined

    // An exception thrown outside any Effect would end the process, and the run with it, without a report. For the
    // life of the run it fails the tests running instead (see UncaughtError); with none running, it is a FAIL result
    // of its own.
    let strays = 0
    // No test to pin it on (the runner's own code, or a test's callback firing after it ended): the run fails all the
    // same, with a result of its own that says so.
    const uncaught = makeUncaughtGuard(runtime, (error) => {
      strays++
      const summary = `an uncaught exception while no test ran: ${error.error}`
      const identity = { testId: `ducktape.uncaught.${strays}`, module: "ducktape", name: `uncaught exception ${strays}`, params: {}, description: "", file: "", symbol: "" }
      return immediate(notRunResult(identity, "FAIL", summary, { tag: "UncaughtError", message: summary, detail: error.stack }))
    })
    const uncaughtListeners = uncaught.listeners

    const sessionContext: SessionContext = { id: sessionId, options, globals, abort, uncaughtListeners }

    // A node that stopped answering during a failed test would fail every test after it: it is taken out of the
    // run (ducktape's complaint: one bad node, a cascade of failures), and tests that no longer fit fail saying so.
    const lostNodes: Array<string> = []
    const returnNodes = (nodes: ReadonlyArray<ClusterModule.ClusterNode>, failed: boolean) =>
      Effect.gen(function*() {
        // A run that is stopping checks nothing: its tests were stopped, not broken by their nodes.
        const check = failed && stopping === undefined && !(yield* Deferred.isDone(abort))
        const problems = check
          ? yield* checkNodes(nodes)
          : []
        pool.giveBack(nodes.filter((_, i) => problems[i] === undefined))
        for (const [i, node] of nodes.entries()) {
          const problem = problems[i]
          if (problem === undefined) continue
          lostNodes.push(node.name)
          // The result must reach the loop whatever a listener does with this.
          yield* Effect.catchAllCause(emit({ _tag: "NodeLost", node: node.name, reason: problem }), () => Effect.void)
        }
      })

    const start = (job: Job, nodes: ReadonlyArray<ClusterModule.ClusterNode>) =>
      Effect.gen(function*() {
        const allocatedAt = Date.now()
        const attemptNo = job.attempts.length + 1
        const dir = dirFor(job.testCase, job.run, attemptNo)
        const attempt = Effect.zipRight(
          // In the test's own fiber: a slow event handler must not hold up the scheduler, nor Ctrl-C.
          emit({ _tag: "TestStarted", testId: job.testCase.id, attempt: attemptNo, nodes: nodes.map((n) => n.name) }),
          runAttempt(job.testCase, nodes, dir, attemptNo, sessionContext)
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
          Effect.tap((a) => options.noTeardown === true ? Effect.void : Effect.interruptible(returnNodes(nodes, a.status === "FAIL"))),
          Effect.map((a): Attempt => ({ ...a, allocatedAt, releasedAt: Date.now() })),
          Effect.onInterrupt(() => Effect.sync(() => options.noTeardown === true ? undefined : pool.giveBack(nodes))),
          Effect.tap((a) => Queue.offer(done, { job, attempt: a })),
          Effect.asVoid,
          Effect.forkDaemon
        )
        running.set(job, fiber)
      })

    // Starts waiting tests that fit now, up to --max-parallel. Nodes are taken synchronously (no Effect per
    // decision: 10,000 tests schedule in milliseconds); uninterruptible so that nodes taken always reach their fiber.
    const fill = Effect.gen(function*() {
      while (running.size < maxParallel) {
        const next = pending.takeFirst(pool.tryTake)
        if (next === undefined) return
        yield* start(next.job, next.taken)
      }
    }).pipe(Effect.uninterruptible)

    /**
     * The session as it stands. Before the end, tests still running or waiting are listed as not run and the
     * session as interrupted: that is what the reports must say if the driver is killed before it can rewrite them.
     */
    const snapshotNow = (final: boolean): Results.SessionResults => {
        const rs = recorded
        const stopTime = Date.now()
        const waiting = pending.all().map((j) => j.testCase.id)
        const inFlight = final ? [] : [...running.keys()].map((j) => j.testCase.id)
        return {
          sessionId,
          frameworkVersion: options.version ?? "0.0.0",
          startTime,
          stopTime,
          runTimeSeconds: (stopTime - startTime) / 1000,
          clusterNumNodes: cluster.size,
          parallelism: maxParallel,
          argv: options.argv ?? [],
          ...(options.rerun === undefined ? {} : { rerun: options.rerun }),
          interrupted: !final || interrupted || stopping !== undefined,
          notRun: [...new Set([...inFlight, ...waiting])],
          // Reports list tests in the order they were selected, not the order parallel runs happened to end.
          results: [...rs].sort((a, b) => (selectionOrder.get(a.testId) ?? -1) - (selectionOrder.get(b.testId) ?? -1))
        }
      }
    const snapshot = (final: boolean) => Effect.sync(() => snapshotNow(final))

    const rewriter = makeReportRewriter(sessionDir, snapshot(false))
    const rewriteReports = rewriter.rewrite

    const loop = Effect.gen(function*() {
      while (pending.size > 0 || running.size > 0) {
        if (stopping === undefined) yield* fill
        if (running.size === 0) {
          if (pending.size > 0 && stopping === undefined && lostNodes.length > 0) {
            // What still waits cannot fit on the nodes left.
            const summary = (spec: ClusterModule.ClusterSpec) =>
              `the test needs ${ClusterModule.describeSpec(spec)}, more than the nodes left after ${lostNodes.join(", ")} ` +
              `stopped answering and were taken out of the run; check those nodes, and rerun the failed tests`
            for (let next = pending.takeFirst((spec) => spec); next !== undefined; next = pending.takeFirst((spec) => spec)) {
              // A --deflake retry that cannot run ends with the failure it had.
              if (next.job.attempts.length > 0) {
                yield* finish(next.job, false)
                continue
              }
              const why = summary(next.taken)
              yield* immediate(notRunResult(identityOf(next.job.testCase), "FAIL", why, { tag: "Unschedulable", message: why, detail: "" }))
            }
            break
          }
          if (pending.size > 0 && stopping === undefined && options.noTeardown === true) {
            stopping = `--no-teardown keeps each test's nodes for what it left running: ${pending.size} test(s) ` +
              `did not fit on the rest; run them on their own or on a bigger cluster`
            yield* emit({ _tag: "Stopping", reason: stopping })
          }
          break
        }
        const { attempt, job } = yield* Queue.take(done)
        running.delete(job)
        const attempts = [...job.attempts, attempt]
        const next: Job = { ...job, attempts }
        const retry = attempt.status === "FAIL" && attempts.length < deflake && stopping === undefined
        yield* finish(next, retry)
        yield* rewriteReports
        if (retry) pending.unshift(next)
        if (attempt.status === "FAIL" && !retry && options.exitFirst === true && stopping === undefined) {
          stopping = "--exit-first: a test failed"
          yield* emit({ _tag: "Stopping", reason: stopping })
        }
      }
    })

    // Plain variables, like `stopping`: only this fiber and its finalizers touch them.
    let interrupted = false
    let concluded: Results.SessionResults | undefined
    const label = labelFor(sessionId)
    yield* loop.pipe(
      RemoteAccount.withSessionLabel(label),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          interrupted = true
          yield* emit({ _tag: "Stopping", reason: "interrupted: stopping running tests and tearing them down" })
          // Running tests are stopped; their scopes stop services and collect logs, and each still reports its
          // result, before the reports are written.
          yield* Deferred.succeed(abort, undefined)
          yield* Effect.forEach([...running.values()], Fiber.await, { concurrency: "unbounded", discard: true })
          for (const { attempt, job } of yield* Queue.takeAll(done)) yield* finish({ ...job, attempts: [...job.attempts, attempt] }, false)
        })
      ),
      Effect.ensuring(
        Effect.gen(function*() {
          yield* rewriter.settle
          const session = yield* snapshot(true)
          yield* files.close
          yield* Report.writeAll(sessionDir, session).pipe(
            Effect.catchAll((e) => Effect.logError(`could not write reports: ${e.message}`))
          )
          concluded = session
          if (options.onConcluded !== undefined) yield* options.onConcluded({ results: session, dir: sessionDir })
        })
      ),
      uncaught.guarding
    )
    // The finalizer above always ran: a session that got here was concluded.
    return { results: concluded!, dir: sessionDir } satisfies R.Session
  })
