/**
 * Running a workload: client fibers, a stop signal, faults on the recorder's clock.
 */
import { Cause, Duration, Effect, Fiber, Ref, Schedule, Scope } from "effect"
import type { HistoryParseError } from "../../History.js"
import type { FaultRecord, Op, Options, Result, Rng } from "../../Workload.js"
import * as Fault from "../service/fault/schedules.js"
import { HistoryParseError as ParseError } from "./errors.js"
import * as recorder from "./recorder.js"

export const rng = (seed: number): Rng => {
  let s = seed | 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const badOptions = (reason: string, fix: string) =>
  Effect.fail(new ParseError({ source: "<workload>", reason, fix }))

export const run = <E, R, FE = never, FR = never>(
  options: Options<E, R, FE, FR>
): Effect.Effect<Result, FE | HistoryParseError, R | Exclude<FR, Scope.Scope>> => {
  if (!Number.isInteger(options.clients) || options.clients < 1) {
    return badOptions(`clients must be a whole number ≥ 1, got ${options.clients}`, "give clients: 1 or more")
  }
  if (options.duration === undefined && options.opsPerClient === undefined) {
    return badOptions("a workload needs an end", "give duration (e.g. \"30 seconds\") or opsPerClient")
  }
  return Effect.scoped(
    Effect.gen(function*() {
      const rec = yield* recorder.make
      const stopped = yield* Ref.make(false)
      const faults: Array<{ tick: number; description: string; started: number; applied: number; healed?: number }> =
        []

      let stopFaults: Effect.Effect<void, FE> = Effect.void
      if (options.faults !== undefined) {
        const spec = options.faults
        const chaos = yield* Fault.during(
          spec.schedule,
          (tick) =>
            Effect.gen(function*() {
              const record: { tick: number; description: string; started: number; applied: number; healed?: number } =
                { tick, description: "", started: yield* rec.now, applied: -1 }
              // Added first, so it runs after the fault's own heal: the record's time is when healing ended.
              yield* Effect.addFinalizer(() =>
                record.applied >= 0 ? Effect.map(rec.now, (t) => void (record.healed = t)) : Effect.void
              )
              const applied = yield* spec.fault(tick)
              record.applied = yield* rec.now
              record.description = describe(applied, tick)
              faults.push(record)
            }),
          { hold: spec.hold }
        )
        yield* Effect.addFinalizer(() => chaos.stop)
        stopFaults = Effect.zipRight(chaos.stop, chaos.check)
      }

      const timeout = options.opTimeout === undefined ? undefined : Duration.decode(options.opTimeout)
      const definite = options.definitelyFailed
      const client = (c: number) =>
        Effect.gen(function*() {
          const random = rng((options.seed ?? 1) * 1_000_003 + c)
          let process = c
          let done = 0
          const pause = options.schedule === undefined ? undefined : yield* Schedule.driver(options.schedule)
          while ((options.opsPerClient === undefined || done < options.opsPerClient) && !(yield* Ref.get(stopped))) {
            const op: Op = options.generator(process, random)
            const action = options.invoke(process, op)
            const timed: Effect.Effect<unknown, E | Cause.TimeoutException, R> = timeout === undefined
              ? action
              : Effect.timeout(action, timeout)
            const exit = yield* Effect.exit(
              rec.record(process, op.f, op.value, timed, {
                definitelyFailed: (e) => !Cause.isTimeoutException(e) && definite !== undefined && definite(e as E)
              })
            )
            done++
            if (exit._tag === "Failure") {
              const failure = Cause.failureOption(exit.cause)
              const wasFail = failure._tag === "Some" && !Cause.isTimeoutException(failure.value) &&
                definite !== undefined && definite(failure.value as E)
              if (!wasFail) process += options.clients
            }
            if (pause !== undefined) {
              const more = yield* Effect.either(pause.next(undefined))
              if (more._tag === "Left") break
            }
          }
        })

      const stopper = options.duration === undefined
        ? Effect.void
        : Effect.zipRight(Effect.sleep(options.duration), Ref.set(stopped, true))
      const stopFiber = yield* Effect.forkScoped(stopper)
      yield* Effect.forEach(Array.from({ length: options.clients }, (_, c) => c), client, {
        concurrency: "unbounded",
        discard: true
      })
      yield* Fiber.interrupt(stopFiber)
      // Heal the fault in progress now, so its record is complete; a fault that failed later fails the run.
      yield* stopFaults
      const history = yield* rec.history
      return { history, faults: faults.map((f) => ({ ...f })) as ReadonlyArray<FaultRecord> }
    })
  ) as Effect.Effect<Result, FE | HistoryParseError, R | Exclude<FR, Scope.Scope>>
}

const describe = (applied: unknown, tick: number): string => {
  if (applied !== null && typeof applied === "object" && "description" in applied) {
    const d = (applied as { description: unknown }).description
    if (typeof d === "string") return d
  }
  return `fault ${tick}`
}
