/**
 * Linearizability checking of a history against a model (Wing & Gong / Lowe search with memoisation of
 * (linearized set, state), as Porcupine; `info` operations handled as Jepsen does: each may have taken effect at
 * any time after its invocation, or never). A model with a `partition` (e.g. `Model.kv()`) is checked part by
 * part (P-compositionality).
 *
 * The checker is pure and synchronous (`check`); `checkEffect` runs it as an Effect, and `checkFile` reads a
 * history file and checks it (for `ducktape check FILE --model NAME`). A verdict is `Valid`, `Invalid` (with a
 * counterexample `format` prints for a person) or `Unknown` (the time or state limit was hit: the search never
 * hangs). Verdicts are plain JSON-serialisable data.
 *
 * @since 0.1.0
 */
import type { Duration, Effect } from "effect"
import type { History, HistoryParseError, Operation } from "./History.js"
import * as internal from "./internal/history/checker.js"
import type { Model } from "./Model.js"

/**
 * Limits of a check.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckOptions {
  /** Give up (verdict `Unknown`) after this long, over all partitions. Default 60 seconds. */
  readonly timeLimit?: Duration.DurationInput
  /** Give up (verdict `Unknown`) after memoising this many search states in one partition. Default 4,000,000. */
  readonly maxStates?: number
  /**
   * Give up (verdict `Unknown`, reason `state-limit`) when the memo of one partition would pass this many bytes
   * (each state holds a bitset of the partition's ops). Default 512 MiB.
   */
  readonly maxMemoBytes?: number
}

/**
 * One step of a counterexample's prefix: the op linearized and the state after it.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrefixStep {
  readonly op: Operation
  /** The model's state after the op, as `describeState` prints it. */
  readonly state: string
}

/**
 * Why a history is not linearizable, in terms a person can follow.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counterexample {
  /** The partition (e.g. the key) where it happened, for partitioned models. */
  readonly partition?: string
  /** The longest linearizable prefix the search found: ops in linearization order, with the state after each. */
  readonly prefix: ReadonlyArray<PrefixStep>
  /** The operation that cannot be placed after that prefix (its completion came first). */
  readonly op: Operation
  /** The state it had to apply to (after the prefix). */
  readonly stateBefore: string
  /** Operations concurrent with it (their intervals overlap its interval), at most 40. */
  readonly concurrent: ReadonlyArray<Operation>
}

/**
 * The history is linearizable.
 *
 * @since 0.1.0
 * @category models
 */
export interface Valid {
  readonly _tag: "Valid"
  readonly model: string
  /** Operations checked (after removing `fail` ops and read-only `info` ops). */
  readonly ops: number
  readonly partitions: number
  /** Memoised search states, all partitions together. */
  readonly states: number
  readonly millis: number
}

/**
 * The history is not linearizable.
 *
 * @since 0.1.0
 * @category models
 */
export interface Invalid {
  readonly _tag: "Invalid"
  readonly model: string
  readonly ops: number
  readonly partitions: number
  readonly states: number
  readonly millis: number
  readonly counterexample: Counterexample
}

/**
 * The check gave up: a limit was hit before an answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Unknown {
  readonly _tag: "Unknown"
  readonly model: string
  readonly ops: number
  readonly partitions: number
  readonly states: number
  readonly millis: number
  readonly reason: "time-limit" | "state-limit"
  /** The partition being searched when the limit was hit. */
  readonly partition?: string
}

/**
 * The answer of a check.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = Valid | Invalid | Unknown

/**
 * Checks a history against a model, synchronously: it holds the thread until its verdict (or its time limit). In a
 * test, use `checkEffect`.
 *
 * @since 0.1.0
 * @category utils
 */
export const check: <S>(model: Model<S>, history: History, options?: CheckOptions) => Verdict = internal.check

/**
 * `check` as an Effect that searches in slices of 25 ms and gives the event loop a turn after each: other fibers
 * (the tests beside it, their timers and commands) run meanwhile, and interrupting it (a test's timeout, Ctrl-C)
 * stops the search there. The verdict's `millis` counts the search only; `timeLimit` counts the wall clock.
 *
 * @since 0.1.0
 * @category utils
 */
export const checkEffect: <S>(model: Model<S>, history: History, options?: CheckOptions) => Effect.Effect<Verdict> =
  internal.checkEffect

/**
 * Reads a history file (any format `History.fromFile` reads) and checks it. Fails with `HistoryParseError` on bad
 * input, including operations the model does not know. For the CLI: exit 0 valid, 1 invalid, 2 bad input, 3 unknown
 * (see `exitCode`).
 *
 * @since 0.1.0
 * @category utils
 */
export const checkFile: <S>(
  path: string,
  model: Model<S>,
  options?: CheckOptions
) => Effect.Effect<Verdict, HistoryParseError> = internal.checkFile

/**
 * The exit code of `ducktape check` for a verdict: 0 valid, 1 invalid, 3 unknown (2 is bad input).
 *
 * @since 0.1.0
 * @category utils
 */
export const exitCode = (verdict: Verdict): 0 | 1 | 3 =>
  verdict._tag === "Valid" ? 0 : verdict._tag === "Invalid" ? 1 : 3

/**
 * A verdict as text for a person: one line for valid/unknown; for invalid, the counterexample step by step. Ops
 * are described with the model's `describeOp` when the model is given.
 *
 * @since 0.1.0
 * @category utils
 */
export const format: <S>(verdict: Verdict, model?: Model<S>) => string = internal.format

/**
 * Rejects operations whose `f` the model does not know, naming the first one (a `HistoryParseError`).
 *
 * @since 0.1.0
 * @category utils
 */
export const validate: <S>(model: Model<S>, history: History, source?: string) => HistoryParseError | undefined =
  internal.validate
