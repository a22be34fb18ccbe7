/**
 * Watching a remote file: the lines written to it after a point, and "wait until this line appears".
 *
 * A monitor streams the file over one long-running `tail -F` (no poll per check), so a line is seen within
 * milliseconds of being written; a file that does not exist yet, or is truncated or rotated, still works.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Schedule, Stream } from "effect"
import { Schema } from "effect"
import { causeLine } from "./internal/shared/causeLine.js"
import type { CommandError } from "./RemoteAccount.js"

/**
 * What a log showed, for a failure message: its first lines too when it had more than the tail shows (a program
 * given a bad flag says why on its first line, then prints a long usage text).
 */
const showLines = (firstLines: ReadonlyArray<string> | undefined, lastLines: ReadonlyArray<string>, skipped: number | undefined) =>
  firstLines === undefined || firstLines.length === 0
    ? `its last lines were:\n  ${lastLines.join("\n  ")}`
    : `its first and last lines were:\n  ${firstLines.join("\n  ")}\n  … (${skipped ?? "some"} lines not shown)\n  ${lastLines.join("\n  ")}`

/** The line most likely to say why, quoted for the first line of a message (the one a terminal summary shows). */
const causeOf = (firstLines: ReadonlyArray<string> | undefined, lastLines: ReadonlyArray<string>) => {
  const cause = causeLine([...(firstLines ?? []), ...lastLines])
  return cause === undefined ? "" : ` (it says ${JSON.stringify(cause)})`
}

/**
 * A log line did not appear within the timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class LogMonitorTimeout extends Schema.TaggedError<LogMonitorTimeout>()("LogMonitorTimeout", {
  host: Schema.String,
  path: Schema.String,
  pattern: Schema.String,
  timeout: Schema.String,
  /** What the file said last, for the failure message. */
  lastLines: Schema.Array(Schema.String),
  /** The first lines written, when there were more than `lastLines` holds. */
  firstLines: Schema.optional(Schema.Array(Schema.String)),
  /** How many lines between `firstLines` and `lastLines` are not shown. */
  skippedLines: Schema.optional(Schema.Number),
  errMsg: Schema.optional(Schema.String),
  /** Why the file could not be read while waiting (a lost connection, say), if it could not. */
  readProblem: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const seen = this.lastLines.length === 0
      ? this.readProblem === undefined ? "nothing was written to it" : "nothing was read from it"
      : showLines(this.firstLines, this.lastLines, this.skippedLines)
    const problem = this.readProblem === undefined ? "" : `\n  reading it failed: ${this.readProblem}`
    return `${this.errMsg ?? "log line did not appear"}: ${this.pattern} not seen in ${this.host}:${this.path} ` +
      `within ${this.timeout}${causeOf(this.firstLines, this.lastLines)}; ${seen}${problem}`
  }
}

/**
 * The process a wait was for (`whileAlive`) ended before the line appeared: waiting on would be in vain.
 *
 * @since 0.1.0
 * @category errors
 */
export class LogMonitorProcessExited extends Schema.TaggedError<LogMonitorProcessExited>()("LogMonitorProcessExited", {
  host: Schema.String,
  path: Schema.String,
  pattern: Schema.String,
  pid: Schema.Number,
  /** Its exit status (128 + N for signal N), when it was started by `spawnDaemon` on this node. */
  exitCode: Schema.optional(Schema.Number),
  lastLines: Schema.Array(Schema.String),
  firstLines: Schema.optional(Schema.Array(Schema.String)),
  skippedLines: Schema.optional(Schema.Number),
  errMsg: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const status = this.exitCode === undefined ? "exited" : `exited with status ${this.exitCode}`
    const seen = this.lastLines.length === 0 ? "nothing was written to it" : showLines(this.firstLines, this.lastLines, this.skippedLines)
    return `${this.errMsg ?? "log line did not appear"}: process ${this.pid} on ${this.host} ${status} before ${this.pattern} ` +
      `appeared in ${this.path}${causeOf(this.firstLines, this.lastLines)}; ${seen}`
  }
}

/**
 * How to wait for a line.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitForLineOptions {
  readonly timeout: Duration.DurationInput
  /** Pause before re-opening the stream after a lost connection. Default: exponential from 100 millis. */
  readonly backoff?: Duration.DurationInput | Schedule.Schedule<unknown, unknown>
  readonly errMsg?: string
  /** How many matching lines to wait for. Default 1. */
  readonly count?: number
  /**
   * The pid of the process that writes the line (say, `spawnDaemon`'s): when it ends first, the wait fails at once
   * with `LogMonitorProcessExited` and its exit status rather than wait out the timeout.
   */
  readonly whileAlive?: number
}

/**
 * How a monitor reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogMonitorOptions {
  /**
   * How long `lines` keeps re-opening the file after the connection to its node was lost, without reading a line,
   * before it fails with the connection error. Long enough for a node that reboots; not forever, for a node that
   * is gone. Default: 2 minutes. (`waitUntil` is bounded by its own timeout.)
   */
  readonly reconnectFor?: Duration.DurationInput
}

/**
 * A remote file watched from the offset it had when the monitor was made.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogMonitor {
  readonly host: string
  readonly path: string
  /** The byte offset lines are read from. */
  readonly offset: number
  /**
   * Lines written after `offset`, as they are written. Never ends by itself; over a lost connection it re-opens
   * where it left off, and fails only once the node has been unreachable for `reconnectFor`.
   */
  readonly lines: Stream.Stream<string, CommandError>
  /** Waits until `pattern` (a substring or RegExp) appears `count` times after `offset`; returns the matches. */
  readonly waitUntil: (
    pattern: string | RegExp,
    options: WaitForLineOptions
  ) => Effect.Effect<ReadonlyArray<string>, LogMonitorTimeout | LogMonitorProcessExited | CommandError>
}
