/** `ducktape report merge`: the reports of several shards as one. */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Effect, Either } from "effect"
import * as Report from "../../Report.js"
import * as Results from "../../Results.js"
import { UsageError } from "./errors.js"

/** Merges the inputs' report.json files into `out`; the exit code of the merged session. */
export const merge = (o: { readonly inputs: ReadonlyArray<string>; readonly out: string }) =>
  Effect.gen(function*() {
    const sessions = yield* Effect.forEach(o.inputs, (input) =>
      Effect.gen(function*() {
        const file = NodeFs.existsSync(NodePath.join(input, "report.json")) ? NodePath.join(input, "report.json") : input
        const text = yield* Effect.try({
          try: () => NodeFs.readFileSync(file, "utf8"),
          catch: () => new UsageError({ problem: `cannot read ${file}`, fix: "pass report.json files or session directories" })
        })
        return yield* Report.decodeJson(text).pipe(
          Either.mapLeft(() => new UsageError({ problem: `${file} is not a ducktape report.json`, fix: "pass report.json files written by ducktape" }))
        )
      }))
    const merged = Report.merge(sessions)
    yield* Effect.sync(() => NodeFs.mkdirSync(o.out, { recursive: true }))
    yield* Report.writeAll(o.out, merged).pipe(Effect.mapError((e) => new UsageError({ problem: e.message, fix: "choose another --out" })))
    yield* Effect.sync(() => process.stdout.write(Report.text(merged) + `\nmerged reports: ${o.out}\n`))
    return Results.exitCode(merged)
  })
