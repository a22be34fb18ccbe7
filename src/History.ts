/**
 * Operation histories of concurrent clients, as Jepsen records them: every operation a client performs is an
 * invocation and a completion — `ok` (it happened), `fail` (it definitely did not happen) or `info` (it may or may
 * not have happened: a timeout, a lost connection, an interrupted client). An `info` operation stays open to the
 * end of the history, since its effect may land at any later time.
 *
 * Record one with `make` and `record` (wrap any client Effect; you say which of its errors mean "definitely
 * failed", every other error and interruption is `info`), or read one from a file with `fromFile` (Jepsen's
 * `history.edn`, Jepsen's log lines, or our JSON Lines format). Check it with `Linearizability.check`.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import * as files from "./internal/history/files.js"
import * as recorder from "./internal/history/recorder.js"
import * as ops from "./internal/history/ops.js"
import type { Either } from "effect"
import type { HistoryParseError } from "./internal/history/errors.js"

export { HistoryParseError } from "./internal/history/errors.js"

/**
 * What an event of a history is: the invocation of an operation or one of its three completions.
 *
 * @since 0.1.0
 * @category models
 */
export type EventType = "invoke" | "ok" | "fail" | "info"

/**
 * How an operation ended: `ok` happened, `fail` definitely did not happen, `info` may or may not have happened.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = "ok" | "fail" | "info"

/**
 * A client of the history (Jepsen's `:process`): a number, or a name such as `nemesis`.
 *
 * @since 0.1.0
 * @category models
 */
export type Process = number | string

/**
 * One line of a history: an invocation or a completion. Times are nanoseconds from the history's origin.
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly type: EventType
  readonly process: Process
  /** The function: `read`, `write`, `cas`, `add`, `enqueue`, … */
  readonly f: string
  /** The invocation's argument, or the completion's result (e.g. the value a `read` returned). */
  readonly value: unknown
  /** Monotonic nanoseconds from the origin of the history. */
  readonly time: number
  /** 1-based line of the file it was read from, for error messages. */
  readonly line?: number
}

/**
 * An operation: an invocation paired with its completion. JSON-serialisable (times are finite numbers).
 *
 * @since 0.1.0
 * @category models
 */
export interface Operation {
  /** Position of the operation in its history (0, 1, …), in order of invocation. */
  readonly id: number
  readonly process: Process
  readonly f: string
  /** The invocation's value (e.g. the value written, `[old, new]` of a `cas`; `null` for a read). */
  readonly value: unknown
  /** The completion's value when the outcome is `ok` (e.g. what a read returned); absent otherwise. */
  readonly output?: unknown
  /** When it was invoked, in nanoseconds from the origin. */
  readonly invoke: number
  /** When its completion was seen (for `info`, when the client gave up; the checker treats it as never). */
  readonly complete: number
  readonly outcome: Outcome
  /** 1-based line of its invocation in the file it was read from. */
  readonly line?: number
}

/**
 * A history: operations in order of invocation. Plain data, JSON-serialisable, for checkers and reports.
 *
 * @since 0.1.0
 * @category models
 */
export interface History {
  readonly ops: ReadonlyArray<Operation>
}

/**
 * Records the operations of concurrent client fibers into one history.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recorder {
  /** Nanoseconds from this recorder's origin, on the same clock as the history's times. */
  readonly now: Effect.Effect<number>
  /**
   * Runs `client` as one operation of `process`: its invocation and completion are recorded around it. Success is
   * `ok` (with `output(a)` as the completion value, default `a`); an error for which `definitelyFailed` holds is
   * `fail`; any other error, a defect, or interruption is `info`. The effect's own result is passed through.
   */
  readonly record: <A, E, R>(
    process: Process,
    f: string,
    value: unknown,
    client: Effect.Effect<A, E, R>,
    options?: RecordOptions<A, E>
  ) => Effect.Effect<A, E, R>
  /**
   * The history so far; operations still running at this instant are `info`. Fails if one process ran two
   * operations at once (give each client fiber its own process id).
   */
  readonly history: Effect.Effect<History, HistoryParseError>
  /** The raw events so far, in the order they happened. */
  readonly events: Effect.Effect<ReadonlyArray<Event>>
}

/**
 * Options of `Recorder.record`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordOptions<A, E> {
  /** The completion value of a success (default: the result itself). */
  readonly output?: (a: A) => unknown
  /** Which errors mean the operation definitely did not take effect (`fail`); the others are `info`. */
  readonly definitelyFailed?: (e: E) => boolean
}

/**
 * A new recorder whose origin (time 0) is now, on Effect's `Clock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Recorder> = recorder.make

/** Pairs a list of events into a history, rejecting completions without invocations, a process with two open
 * operations, and completions that precede their invocation (each error names the operations).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEvents: (
  events: ReadonlyArray<Event>,
  source?: string
) => Either.Either<History, HistoryParseError> = ops.fromEvents

/**
 * The events of a history, in time order (an `info` operation's completion is kept where it was seen).
 *
 * @since 0.1.0
 * @category utils
 */
export const toEvents: (history: History) => ReadonlyArray<Event> = ops.toEvents

/**
 * The history formats `fromFile` reads.
 *
 * @since 0.1.0
 * @category models
 */
export type Format = "edn" | "jepsen-log" | "jsonl"

/**
 * Reads a history file, detecting its format: Jepsen's `history.edn` (a vector of op maps, or one map per line),
 * Jepsen's log lines (`INFO jepsen.util - 3	:invoke	:read	nil`), or our JSON Lines (see `toJsonLines`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFile: (path: string) => Effect.Effect<History, HistoryParseError> = files.fromFile

/**
 * Parses history text in a given format, or detects it; `source` names it in errors.
 *
 * @since 0.1.0
 * @category utils
 */
export const parse: (
  text: string,
  options?: { readonly format?: Format; readonly source?: string }
) => Either.Either<History, HistoryParseError> = files.parse

/**
 * Our JSON Lines format: one event per line, `{"type":"invoke","process":0,"f":"write","value":1,"time":120}`
 * (`time` in nanoseconds; `type` one of invoke/ok/fail/info). `fromFile` also accepts one operation per line,
 * `{"process":0,"f":"read","value":null,"output":1,"invoke":120,"complete":340,"outcome":"ok"}`.
 *
 * @since 0.1.0
 * @category utils
 */
export const toJsonLines: (history: History) => string = files.toJsonLines

/**
 * Jepsen's EDN: one op map per line, with `:index`, `:time`, `:type`, `:process`, `:f`, `:value`.
 *
 * @since 0.1.0
 * @category utils
 */
export const toEdn: (history: History) => string = files.toEdn
