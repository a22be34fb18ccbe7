/**
 * What a run's scheduling loop, the attempts it starts and its bookkeeping share while it goes, in one value passed
 * to each rather than closed over. Plain fields, not Refs: only this session's fibers and their finalizers touch
 * them, and a hard exit (a second Ctrl-C) must read them synchronously.
 */
import { Deferred, Effect, type Fiber, Queue } from "effect"
import type { Attempt, Job } from "./attempt.js"
import { PendingQueue } from "./scheduler.js"

/** The state of a run while it goes. */
export interface RunState {
  /** Tests waiting for nodes. Largest first; smaller tests fill the gaps a big one leaves. */
  readonly pending: PendingQueue<Job>
  /** Tests running now, each in a fiber of its own. */
  readonly running: Map<Job, Fiber.RuntimeFiber<void>>
  /** Attempts that ended, for the loop to take. */
  readonly done: Queue.Queue<{ job: Job; attempt: Attempt }>
  /** Completed when the run is interrupted: running bodies stop. */
  readonly abort: Deferred.Deferred<void>
  /** Nodes taken out of the run: they stopped answering during a failed test. */
  readonly lostNodes: Array<string>
  /** Why the run starts no more tests, once it stopped starting them (--exit-first, --no-teardown). */
  stopping: string | undefined
  /** Whether the run was interrupted (Ctrl-C). */
  interrupted: boolean
}

/** A run with nothing waiting, nothing running, not stopping. */
export const makeRunState: Effect.Effect<RunState> = Effect.gen(function*() {
  return {
    pending: new PendingQueue<Job>((job) => job.testCase.spec),
    running: new Map<Job, Fiber.RuntimeFiber<void>>(),
    done: yield* Queue.unbounded<{ job: Job; attempt: Attempt }>(),
    abort: yield* Deferred.make<void>(),
    lostNodes: [],
    stopping: undefined,
    interrupted: false
  }
})
