/**
 * Recording operations of concurrent client fibers. Events go to one plain array: appends are synchronous steps
 * of `Effect.sync`, and a JavaScript runtime runs one fiber step at a time, so no lock is needed.
 */
import { Cause, Clock, Effect, Exit } from "effect"
import type { Event, History, Process, RecordOptions, Recorder } from "../../History.js"
import * as ops from "./ops.js"

export const make: Effect.Effect<Recorder> = Effect.map(Clock.currentTimeNanos, (origin) => {
  const events: Array<Event> = []
  const now = Effect.map(Clock.currentTimeNanos, (t) => Number(t - origin))
  const push = (type: Event["type"], process: Process, f: string, value: unknown) =>
    Effect.flatMap(now, (time) => Effect.sync(() => void events.push({ type, process, f, value, time })))

  const record = <A, E, R>(
    process: Process,
    f: string,
    value: unknown,
    client: Effect.Effect<A, E, R>,
    options?: RecordOptions<A, E>
  ): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        push("invoke", process, f, value),
        Effect.onExit(restore(client), (exit) => {
          if (Exit.isSuccess(exit)) {
            return push("ok", process, f, options?.output ? options.output(exit.value) : exit.value)
          }
          const failure = Cause.failureOption(exit.cause)
          const definite =
            failure._tag === "Some" &&
            !Cause.isInterrupted(exit.cause) &&
            options?.definitelyFailed !== undefined &&
            options.definitelyFailed(failure.value)
          return push(definite ? "fail" : "info", process, f, value)
        })
      )
    )

  const history = Effect.flatMap(
    Effect.sync(() => events.slice()),
    (evs) => ops.fromEvents(evs, "<recorder>")
  )
  return { now, record, history, events: Effect.sync(() => events.slice()) }
})
