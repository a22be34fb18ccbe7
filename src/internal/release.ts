import type { Duration } from "effect"
import { Effect } from "effect"

/**
 * A time limit that holds inside a finalizer too. Finalizers run uninterruptibly, so a plain `Effect.timeout`
 * there waits for the work anyway; marking the work interruptible lets the timer stop it. (The work is not cut
 * short by the interruption that closed the scope: that one is already being handled.)
 */
export const bounded = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> => Effect.timeoutFail(Effect.interruptible(effect), { duration, onTimeout })
