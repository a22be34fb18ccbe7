import { Duration, Effect, Fiber, Option } from "effect"

/**
 * Runs `effect` to its end or to its time limit, whatever interruptions the caller receives meanwhile, and then
 * lets them take effect. For steps that must not stop half-way — a teardown step, a heal, learning the pid of a
 * process just started — yet must not hang either.
 *
 * The work runs in its own fiber: inside a finalizer (uninterruptible) a plain `Effect.timeout` would wait for the
 * work anyway, and an interruptible region there would let a pending interruption cut the work short. At the time
 * limit the work is interrupted but not waited for (`disconnect`): a step that cannot be interrupted (a blocking
 * release, an uninterruptible region in user code) must not hold the teardown past its limit.
 */
export const bounded = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptible(
    Effect.flatMap(
      Effect.forkDaemon(Effect.timeoutFail(Effect.interruptible(Effect.disconnect(effect)), { duration, onTimeout })),
      Fiber.join
    )
  )

/** How long a process that a release stops gets between TERM and KILL. */
export const killGrace: Duration.Duration = Duration.seconds(2)

/**
 * Stops something in two steps, as one would by hand: `term`, then `kill` unless `ended` completes within `grace`.
 * The wait is bounded wherever this runs — in a finalizer too, where a plain `Effect.timeout` would wait for its
 * effect to end.
 */
export const termThenKill = <E1, E2, R>(steps: {
  readonly term: Effect.Effect<void, E1, R>
  readonly kill: Effect.Effect<void, E2, R>
  readonly ended: Effect.Effect<unknown, unknown, R>
  readonly grace: Duration.DurationInput
}): Effect.Effect<void, E1 | E2, R> =>
  Effect.zipRight(
    steps.term,
    Effect.flatMap(Effect.option(bounded(steps.ended, steps.grace, () => "grace over")), (ended) =>
      Option.isNone(ended) ? steps.kill : Effect.void)
  )
