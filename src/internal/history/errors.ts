/**
 * Errors of histories and checkers, in a module of their own so the public modules re-export them without a cycle.
 */
import { Schema } from "effect"

/** A history file or history value could not be read or does not make sense as a history. */
export class HistoryParseError extends Schema.TaggedError<HistoryParseError>()("HistoryParseError", {
  /** The file (or `<history>` for a value in memory). */
  source: Schema.String,
  /** 1-based line number, when the problem sits on one line. */
  line: Schema.optional(Schema.Number),
  reason: Schema.String,
  fix: Schema.String
}) {
  override get message(): string {
    const where = this.line === undefined ? this.source : `${this.source}:${this.line}`
    return `cannot read history ${where}: ${this.reason}\n  fix: ${this.fix}`
  }
}
