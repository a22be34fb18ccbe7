/**
 * Workloads: N client fibers issue operations chosen by a generator, at a rate given by a `Schedule`, for a time
 * or a number of operations, while faults from `Fault.during` run on the same timeline. The result is the
 * history of every operation plus a record of every fault, all in nanoseconds from one origin — ready for
 * `Linearizability.check` and for a timeline in the report.
 *
 * As in Jepsen, a client whose operation ended `info` (error not known to be definite, timeout, interruption)
 * continues under a new process id (`process + clients`), since its old operation may still be in flight.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Schedule, Scope } from "effect"
import type { History, HistoryParseError } from "./History.js"
import * as internal from "./internal/history/workload.js"

/**
 * An operation to perform: its function and argument.
 *
 * @since 0.1.0
 * @category models
 */
export interface Op {
  readonly f: string
  readonly value: unknown
}

/**
 * A seeded source of numbers in [0, 1), one per client, so a workload's choices are reproducible.
 *
 * @since 0.1.0
 * @category models
 */
export type Rng = () => number

/**
 * Faults to run during the workload, with `Fault.during`'s arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface Faults<E, R> {
  readonly schedule: Schedule.Schedule<unknown, unknown>
  /** A scoped fault; the value it returns is described in the record if it has a `description`. */
  readonly fault: (tick: number) => Effect.Effect<unknown, E, R | Scope.Scope>
  readonly hold: Duration.DurationInput
}

/**
 * What a workload runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E, R, FE = never, FR = never> {
  /** How many client fibers run at once. */
  readonly clients: number
  /** The next operation of a client (`process` is its current process id). */
  readonly generator: (process: number, rng: Rng) => Op
  /** Performs an operation; its success is the completion value (e.g. what a read returned). */
  readonly invoke: (process: number, op: Op) => Effect.Effect<unknown, E, R>
  /** Errors that mean the operation definitely did not happen (`fail`); other errors are `info`. */
  readonly definitelyFailed?: (e: E) => boolean
  /** Pause between one client's operations (default: none; e.g. `Schedule.spaced("10 millis")`). */
  readonly schedule?: Schedule.Schedule<unknown, unknown>
  /** Stop issuing operations after this long (operations in flight then finish). */
  readonly duration?: Duration.DurationInput
  /** Stop each client after this many operations. */
  readonly opsPerClient?: number
  /** An operation taking longer is given up and recorded `info` (default: none). */
  readonly opTimeout?: Duration.DurationInput
  /** Seed of the clients' `Rng`s (default 1). */
  readonly seed?: number
  readonly faults?: Faults<FE, FR>
}

/**
 * A fault applied during the workload, in nanoseconds from the history's origin.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultRecord {
  readonly tick: number
  readonly description: string
  /** When its application began. */
  readonly started: number
  /** When it was applied (its application finished). */
  readonly applied: number
  /** When it was healed; absent if it was still applied when the workload ended (it is healed afterwards). */
  readonly healed?: number
}

/**
 * A workload's outcome: the history and the faults, on one timeline.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  readonly history: History
  readonly faults: ReadonlyArray<FaultRecord>
}

/**
 * Runs a workload to its end (duration or operation count; at least one must be given) and returns the history
 * and the faults. A fault that cannot be applied fails the run.
 *
 * @since 0.1.0
 * @category utils
 */
export const run: <E, R, FE = never, FR = never>(
  options: Options<E, R, FE, FR>
) => Effect.Effect<Result, FE | HistoryParseError, R | Exclude<FR, Scope.Scope>> = internal.run

/**
 * A seeded random source (mulberry32): the `Rng` clients get, for generators and tests.
 *
 * @since 0.1.0
 * @category utils
 */
export const rng: (seed: number) => Rng = internal.rng
