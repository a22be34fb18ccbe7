/**
 * The run's guard against exceptions thrown outside any Effect (a timer's callback, a promise nobody awaits): for the
 * life of the run they fail the tests running at that moment instead of ending the process without a report.
 */
import { Effect, Runtime } from "effect"
import { UncaughtError } from "./errors.js"

/** Tests currently running, told of an uncaught exception in the process (see UncaughtError). */
export type UncaughtListener = (error: UncaughtError) => void

const uncaughtErrorOf = (e: unknown): UncaughtError =>
  new UncaughtError({
    error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
    stack: e instanceof Error && e.stack !== undefined ? e.stack : ""
  })

/**
 * A guard: `listeners` are the running tests; with none running, `onStray` records the exception as a result of its
 * own, run on the session's runtime (the callback comes from outside any fiber).
 */
export const makeUncaughtGuard = (runtime: Runtime.Runtime<never>, onStray: (error: UncaughtError) => Effect.Effect<void>) => {
  const listeners = new Set<UncaughtListener>()
  const onUncaught = (e: unknown) => {
    const error = uncaughtErrorOf(e)
    for (const listener of listeners) listener(error)
    if (listeners.size > 0) return
    Runtime.runFork(runtime)(onStray(error))
  }
  /** Runs `effect` with the process's uncaught-exception handlers set to the guard's. */
  const guarding = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        process.on("uncaughtException", onUncaught)
        process.on("unhandledRejection", onUncaught)
      }),
      () => effect,
      () =>
        Effect.sync(() => {
          process.off("uncaughtException", onUncaught)
          process.off("unhandledRejection", onUncaught)
        })
    )
  return { listeners, guarding }
}
