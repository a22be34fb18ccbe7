/**
 * Waiting for a condition: poll an effect on a Schedule until it holds, with an overall timeout.
 *
 * Unlike ducktape's `wait_until`, a condition that holds returns at once (no sleep after a success).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Ref, Schedule, Schema } from "effect"
import { errorText } from "./internal/shared/errorText.js"

/**
 * A condition did not hold within its timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class WaitTimeout extends Schema.TaggedError<WaitTimeout>()("WaitTimeout", {
  description: Schema.String,
  timeout: Schema.String,
  attempts: Schema.Number,
  lastError: Schema.optional(Schema.String),
  /** The backoff Schedule ended before the timeout: the checks stopped early, not the clock. */
  scheduleEnded: Schema.optional(Schema.Boolean)
}) {
  override get message(): string {
    const why = this.scheduleEnded === true
      ? `gave up after ${this.attempts} checks, when its backoff schedule ended (before the ${this.timeout} timeout)`
      : `gave up after ${this.timeout}, ${this.attempts} checks`
    return `${this.description} (${why})` + (this.lastError === undefined ? "" : `; last error: ${this.lastError}`)
  }
}

/**
 * How to wait.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  readonly timeout: Duration.DurationInput
  /** Pause between checks: a fixed duration, or any Schedule. Default 100 millis. */
  readonly backoff?: Duration.DurationInput | Schedule.Schedule<unknown, unknown>
  /** What the timeout error says; a function is called only on timeout. */
  readonly errMsg?: string | (() => string)
  /** Treat a failing check as "not yet" instead of failing at once. */
  readonly retryOnError?: boolean
}

/**
 * The default pause between checks.
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultBackoff: Duration.Duration = Duration.millis(100)

/**
 * Checks `condition` until it is true. Fails with `WaitTimeout` after `timeout`, or with the condition's own
 * error unless `retryOnError`.
 *
 * @since 0.1.0
 * @category utils
 */
export function waitUntil<E, R>(
  condition: Effect.Effect<boolean, E, R>,
  options: WaitOptions & { readonly retryOnError: true }
): Effect.Effect<void, WaitTimeout, R>
export function waitUntil<E, R>(condition: Effect.Effect<boolean, E, R>, options: WaitOptions): Effect.Effect<void, WaitTimeout | E, R>
export function waitUntil<E, R>(condition: Effect.Effect<boolean, E, R>, options: WaitOptions): Effect.Effect<void, WaitTimeout | E, R> {
  return Effect.gen(function*() {
    const attempts = yield* Ref.make(0)
    const lastError = yield* Ref.make<Option.Option<string>>(Option.none())
    const check: Effect.Effect<boolean, E, R> = Effect.zipRight(
      Ref.update(attempts, (n) => n + 1),
      options.retryOnError === true
        ? Effect.catchAll(condition, (e) => Effect.as(Ref.set(lastError, Option.some(errorText(e))), false))
        : condition
    )
    const pause: Schedule.Schedule<unknown, unknown> = Schedule.isSchedule(options.backoff)
      ? options.backoff
      : Schedule.spaced(options.backoff ?? defaultBackoff)
    const untilTrue = Schedule.recurUntil((ok: boolean) => ok)
    const outcome = yield* check.pipe(
      Effect.repeat(Schedule.intersect(untilTrue, pause).pipe(Schedule.map(([b]) => b))),
      Effect.map((b): "ok" | "schedule ended" => (b === true ? "ok" : "schedule ended")),
      Effect.timeoutTo({ duration: options.timeout, onSuccess: (o) => o, onTimeout: () => "timed out" as const })
    )
    if (outcome === "ok") return
    const msg = options.errMsg
    const last = yield* Ref.get(lastError)
    return yield* Effect.fail(
      new WaitTimeout({
        description: typeof msg === "function" ? msg() : msg ?? "condition did not become true",
        timeout: Duration.format(Duration.decode(options.timeout)),
        attempts: yield* Ref.get(attempts),
        ...(Option.isSome(last) ? { lastError: last.value } : {}),
        ...(outcome === "schedule ended" ? { scheduleEnded: true } : {})
      })
    )
  })
}
