/** The report files' names and the error of writing them, in a module of their own: the machinery uses them without importing Report.ts. */
import { Schema } from "effect"

/** A report could not be written, or a `report.json` could not be read back. */
export class ReportError extends Schema.TaggedError<ReportError>()("ReportError", {
  operation: Schema.Literal("write", "decode"),
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return this.operation === "write"
      ? `cannot write report ${this.path}: ${this.reason}; check that the directory is writable and the disk not full`
      : `${this.path} is not a ducktape report.json: ${this.reason}`
  }
}

/** The file names `writeAll` writes into a session directory. */
export const fileNames = {
  text: "report.txt",
  json: "report.json",
  junit: "report.xml",
  html: "report.html",
  timeline: "timeline.svg",
  rerun: "rerun-failed.yml"
} as const
