/** `ducktape check FILE --model NAME`: checks a history file for linearizability against a built-in model. */
import * as NodeFs from "node:fs"
import { Duration, Effect, Option } from "effect"
import * as Linearizability from "../../Linearizability.js"
import * as Model from "../../Model.js"
import { UsageError } from "./errors.js"

/** Parses `--time-limit`: "30 seconds", "2 minutes", 90s, 500ms, or a number of seconds. */
const parseLimit = (text: string): Duration.Duration | undefined => {
  const t = text.trim()
  if (/^\d+(\.\d+)?$/.test(t)) return Duration.seconds(Number(t))
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(t)
  if (short !== null) {
    const n = Number(short[1])
    return short[2] === "ms" ? Duration.millis(n) : short[2] === "s" ? Duration.seconds(n) : short[2] === "m" ? Duration.minutes(n) : Duration.hours(n)
  }
  const decoded = Duration.decodeUnknown(t)
  return Option.isSome(decoded) && Duration.toMillis(decoded.value) > 0 ? decoded.value : undefined
}

/** Checks the file; the exit code: 0 valid, 1 invalid (counterexample printed), 3 unknown; bad input fails with UsageError (2). */
export const check = (o: { readonly file: string; readonly model: Option.Option<string>; readonly timeLimit: Option.Option<string> }) =>
  Effect.gen(function*() {
    const known = Object.keys(Model.builtins).join(", ")
    if (Option.isNone(o.model)) {
      return yield* Effect.fail(new UsageError({ problem: `ducktape check needs --model`, fix: `pass --model NAME, one of: ${known}` }))
    }
    const model = Model.byName(o.model.value)
    if (model === undefined) {
      return yield* Effect.fail(new UsageError({ problem: `unknown model ${JSON.stringify(o.model.value)}`, fix: `pass --model with one of: ${known}` }))
    }
    let timeLimit: Duration.Duration | undefined
    if (Option.isSome(o.timeLimit)) {
      timeLimit = parseLimit(o.timeLimit.value)
      if (timeLimit === undefined) {
        return yield* Effect.fail(new UsageError({
          problem: `--time-limit ${JSON.stringify(o.timeLimit.value)} is not a duration`,
          fix: `pass e.g. --time-limit 30s, --time-limit "2 minutes" or --time-limit 500ms`
        }))
      }
    }
    if (!NodeFs.existsSync(o.file)) {
      return yield* Effect.fail(new UsageError({ problem: `no such file: ${o.file}`, fix: "pass the path of a history file (history.edn, a Jepsen log, or .jsonl)" }))
    }
    if (NodeFs.statSync(o.file).isDirectory()) {
      return yield* Effect.fail(new UsageError({ problem: `${o.file} is a directory`, fix: "pass the path of a history file inside it, e.g. history.edn" }))
    }
    const verdict = yield* Linearizability.checkFile(o.file, model, timeLimit === undefined ? {} : { timeLimit }).pipe(
      Effect.mapError((e) => new UsageError({ problem: `cannot read history ${e.line === undefined ? e.source : `${e.source}:${e.line}`}: ${e.reason}`, fix: e.fix }))
    )
    const hint = verdict._tag === "Unknown" && verdict.reason === "time-limit" ? "\n(pass a larger --time-limit to search longer)" : ""
    yield* Effect.sync(() => process.stdout.write(Linearizability.format(verdict, model) + hint + "\n"))
    return Linearizability.exitCode(verdict)
  })
