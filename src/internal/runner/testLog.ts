/**
 * A test's own log files, beside its other results: what it and its services log while it runs, INFO and up in
 * test_log.info and everything in test_log.debug (and on the terminal too under --debug).
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Cause, Effect, HashMap, Logger, LogLevel } from "effect"

/** A logger writing a test's own log files: INFO and up to test_log.info, everything to test_log.debug. */
export const testLogger = (dir: string, echo: boolean) => {
  const info = NodeFs.createWriteStream(NodePath.join(dir, "test_log.info"), { flags: "a" })
  const debug = NodeFs.createWriteStream(NodePath.join(dir, "test_log.debug"), { flags: "a" })
  const logger = Logger.make(({ cause, logLevel, message, annotations, date }) => {
    const text = Array.isArray(message) ? message.map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ") : String(message)
    const notes = HashMap.toEntries(annotations).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    // A cause logged with a message (`Effect.logWarning("…", cause)`) is why something went wrong: keep it.
    const why = Cause.isEmpty(cause) ? "" : `\n  ${Cause.pretty(cause).split("\n").join("\n  ")}`
    const line = `[${logLevel.label.padEnd(5)} ${date.toISOString()}]${notes.length > 0 ? ` {${notes.join(" ")}}` : ""} ${text}${why}\n`
    debug.write(line)
    if (LogLevel.greaterThanEqual(logLevel, LogLevel.Info)) info.write(line)
    if (echo) process.stderr.write(line)
  })
  const close = Effect.promise(() =>
    Promise.all([info, debug].map((s) => new Promise<void>((resolve) => s.end(() => resolve()))))
  )
  return { logger, close }
}
