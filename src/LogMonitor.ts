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
import type { CommandError } from "./RemoteAccount.js"

/** A log line did not appear within the timeout. */
export class LogMonitorTimeout extends Schema.TaggedError<LogMonitorTimeout>()("LogMonitorTimeout", {
  host: Schema.String,
  path: Schema.String,
  pattern: Schema.String,
  timeout: Schema.String,
  /** What the file said last, for the failure message. */
  lastLines: Schema.Array(Schema.String),
  errMsg: Schema.optional(Schema.String),
  /** Why the file could not be read while waiting (a lost connection, say), if it could not. */
  readProblem: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const seen = this.lastLines.length === 0
      ? this.readProblem === undefined ? "nothing was written to it" : "nothing was read from it"
      : `its last lines were:\n  ${this.lastLines.join("\n  ")}`
    const problem = this.readProblem === undefined ? "" : `\n  reading it failed: ${this.readProblem}`
    return `${this.errMsg ?? "log line did not appear"}: ${this.pattern} not seen in ${this.host}:${this.path} ` +
      `within ${this.timeout}; ${seen}${problem}`
  }
}

/** How to wait for a line. */
export interface WaitForLineOptions {
  readonly timeout: Duration.DurationInput
  /** Pause before re-opening the stream after a lost connection. Default: exponential from 100 millis. */
  readonly backoff?: Duration.DurationInput | Schedule.Schedule<unknown, unknown>
  readonly errMsg?: string
  /** How many matching lines to wait for. Default 1. */
  readonly count?: number
}

/** How a monitor reads. */
export interface LogMonitorOptions {
  /**
   * How long `lines` keeps re-opening the file after the connection to its node was lost, without reading a line,
   * before it fails with the connection error. Long enough for a node that reboots; not forever, for a node that
   * is gone. Default: 2 minutes. (`waitUntil` is bounded by its own timeout.)
   */
  readonly reconnectFor?: Duration.DurationInput
}

/** A remote file watched from the offset it had when the monitor was made. */
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
  ) => Effect.Effect<ReadonlyArray<string>, LogMonitorTimeout | CommandError>
}
