/** `ducktape [paths…]`: select tests, run them on the cluster the flags ask for, report. */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Duration, Effect, Either, Option } from "effect"
import type { RunFlags } from "../../Cli.js"
import * as Cluster from "../../Cluster.js"
import * as Discovery from "../../Discovery.js"
import * as Report from "../../Report.js"
import * as Results from "../../Results.js"
import * as Runner from "../../Runner.js"
import { errorText } from "../shared/errorText.js"
import { makeProgress } from "../runner/session/progress.js"
import * as selection from "../runner/discovery/selection.js"
import { cleanCommandFor, clusterLayer, fixFor, isLabClusterFile } from "./clusterFlags.js"
import { UsageError } from "./errors.js"
import { useColor } from "./flags.js"
import { onHardExit } from "./hardExit.js"
import { version } from "./version.js"
import * as Docker from "../../Docker.js"
import { rerunPrefix } from "./rerun.js"

const fail = (problem: string, fix: string) => Effect.fail(new UsageError({ problem, fix }))

const parseDuration = (text: string): Either.Either<Duration.Duration, UsageError> => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|millis|s|sec|seconds?|m|min|minutes?|h|hours?)?\s*$/.exec(text)
  if (m === null) {
    return Either.left(new UsageError({ problem: `--test-timeout ${JSON.stringify(text)} is not a duration`, fix: 'write e.g. "90s", "10 minutes" or "1h"' }))
  }
  const n = Number(m[1])
  const unit = m[2] ?? "s"
  const ms = unit.startsWith("ms") || unit === "millis" ? n : unit.startsWith("s") ? n * 1000 : unit.startsWith("m") ? n * 60_000 : n * 3_600_000
  return Either.right(Duration.millis(ms))
}

const parseJsonObject = (flag: string, text: string, allowFile: boolean) =>
  Effect.gen(function*() {
    let source = text
    if (allowFile && !text.trim().startsWith("{")) {
      source = yield* Effect.try({
        try: () => NodeFs.readFileSync(text, "utf8"),
        catch: () => new UsageError({ problem: `${flag}: ${text} is neither a JSON object nor a readable file`, fix: `pass ${flag} '{"key": "value"}' or a path to a JSON file` })
      })
    }
    const value = yield* Effect.try({
      try: () => JSON.parse(source) as unknown,
      catch: (e) => new UsageError({ problem: `${flag} is not valid JSON: ${(e as Error).message}`, fix: `pass ${flag} '{"key": "value"}'` })
    })
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return yield* fail(`${flag} must be a JSON object`, `pass ${flag} '{"key": "value"}'`)
    }
    return value as Record<string, unknown>
  })

/** An earlier run's report.json, from a file or (as ducktape allows, e.g. a CI artifact) an http(s) URL. */
const readHistory = (path: string) =>
  Effect.gen(function*() {
    const fix = "pass the report.json of an earlier run (a file or an http(s) URL)"
    const text = /^https?:\/\//.test(path)
      ? yield* Effect.tryPromise({
        try: async () => {
          const response = await fetch(path, { signal: AbortSignal.timeout(30_000) })
          if (!response.ok) throw new Error(`status ${response.status}`)
          return await response.text()
        },
        catch: (e) => new UsageError({ problem: `--historical-report ${path} cannot be fetched: ${errorText(e)}`, fix })
      })
      : yield* Effect.try({
        try: () => NodeFs.readFileSync(path, "utf8"),
        catch: () => new UsageError({ problem: `--historical-report ${path} cannot be read`, fix })
      })
    const session = yield* Report.decodeJson(text).pipe(
      // The schema's own account of the mismatch is kilobytes long: what the user needs is which file is wrong.
      Either.mapLeft(() => new UsageError({ problem: `--historical-report ${path} is not a ducktape report.json`, fix }))
    )
    return new Map(session.results.map((r) => [r.testId, r.runTimeSeconds]))
  })

/** Runs the selected tests; the exit code. */
export const runTests = (flags: RunFlags, argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const unknownFlag = flags.paths.find((p) => p.startsWith("--"))
    if (unknownFlag !== undefined) return yield* fail(`unknown flag ${unknownFlag}`, "see `ducktape --help` for the flags")
    if (flags.subset >= flags.subsets) {
      return yield* fail(`--subset ${flags.subset} is not one of the ${flags.subsets} shards`, `pass --subset from 0 to ${flags.subsets - 1}`)
    }
    const testTimeout = Option.isSome(flags.testTimeout) ? yield* parseDuration(flags.testTimeout.value) : undefined
    const parameters = Option.isSome(flags.parameters) ? yield* parseJsonObject("--parameters", flags.parameters.value, false) : undefined
    const globals = Option.isSome(flags.globals) ? yield* parseJsonObject("--globals", flags.globals.value, true) : {}

    // Tests that need real hosts (e.g. network faults) declare env DUCKTAPE_LAB=1; a lab's cluster file is that, and
    // so are Docker containers.
    const realHosts = (Option.isSome(flags.clusterFile) && isLabClusterFile(flags.clusterFile.value)) ||
      (Option.isSome(flags.cluster) && Option.isSome(Docker.parseClusterFlag(flags.cluster.value)))
    const labGate = process.env.DUCKTAPE_LAB === undefined && realHosts
    const env: Record<string, string> = labGate ? { DUCKTAPE_LAB: "1" } : {}
    const discovered = yield* Discovery.discover({
      paths: flags.paths.length === 0 ? ["."] : flags.paths,
      exclude: flags.exclude,
      env,
      ...(parameters === undefined ? {} : { parameters })
    }).pipe(Effect.mapError((e) => new UsageError({ problem: e.problem, fix: e.fix })))

    let cases = discovered.cases
    if (flags.subsets > 1) {
      const history = Option.isSome(flags.historicalReport) ? yield* readHistory(flags.historicalReport.value) : new Map<string, number>()
      cases = selection.shard(cases, flags.subsets, flags.subset, history)
    }
    if (cases.length === 0 && discovered.loadFailures.length === 0) {
      // ducktape would end this shard with "No tests to run!"; an empty shard that passes would hide a CI mistake.
      return yield* fail(
        `shard ${flags.subset} of ${flags.subsets} has no tests: the selection has only ${discovered.cases.length}`,
        `use --subsets ${discovered.cases.length} or fewer`
      )
    }
    if (Option.isSome(flags.sample)) {
      const n = flags.sample.value
      if (n > cases.length) {
        yield* Effect.sync(() => process.stderr.write(`--sample ${n} is more than the ${cases.length} selected tests: running all of them\n`))
      }
      cases = selection.sample(cases, n)
    }

    if (flags.collectOnly) {
      yield* Effect.sync(() => {
        process.stdout.write(`Collected ${cases.length} tests:\n`)
        for (const c of cases) {
          const note = c.problem !== undefined ? `  (cannot run: ${c.problem})` : c.ignored !== undefined ? `  (ignored: ${c.ignored})` : ""
          process.stdout.write(`  ${c.id}${note}\n`)
        }
        for (const f of discovered.loadFailures) process.stdout.write(`  FAILED TO LOAD ${f.file}: ${f.error}\n`)
      })
      return discovered.loadFailures.length > 0 || cases.some((c) => c.problem !== undefined) ? 1 : 0
    }
    if (flags.collectNumNodes) {
      yield* Effect.sync(() => process.stdout.write(`${cases.reduce((n, c) => n + Cluster.specSize(c.spec), 0)}\n`))
      return 0
    }

    const layer = yield* clusterLayer(flags, flags.noTeardown)
    const progress = makeProgress(process.stdout, { color: useColor(process.stdout) })
    const clean = cleanCommandFor(flags)
    // For the rerun commands in the reports: the environment the run had that tests gate on, then its flags.
    const rerunEnv = { ...(process.env.DUCKTAPE_LAB === undefined ? {} : { DUCKTAPE_LAB: process.env.DUCKTAPE_LAB }), ...env }
    let unregister: (() => void) | undefined
    const session = yield* Runner.run({
      cases,
      loadFailures: discovered.loadFailures,
      maxParallel: flags.maxParallel,
      resultsRoot: flags.resultsRoot,
      ...(testTimeout === undefined ? {} : { testTimeout }),
      deflake: flags.deflake,
      exitFirst: flags.exitFirst,
      repeat: flags.repeat,
      failBadClusterUtilization: flags.failBadClusterUtilization,
      noTeardown: flags.noTeardown,
      enableJvmLogs: flags.enableJvmLogs,
      globals,
      debug: flags.debug,
      argv: [...Object.entries(rerunEnv).map(([k, v]) => `${k}=${v}`), ...argv],
      rerun: rerunPrefix([...Object.entries(rerunEnv).map(([k, v]) => `${k}=${v}`), ...argv]),
      version,
      onEvent: progress.onEvent,
      onStarted: (started) =>
        Effect.sync(() => {
          // A second Ctrl-C exits at once, without teardown: the reports are still written, and the way to remove
          // what the run left on the nodes is said.
          unregister = onHardExit(() => {
            started.writeReportsSync()
            process.stderr.write(
              `reports: ${started.dir}\nservices this run started may still be running on the nodes; remove them with:\n  ${clean}\n`
            )
          })
        }),
      // Printed when the reports are written: after Ctrl-C too, when nothing after `run` happens.
      onConcluded: (concluded) =>
        Effect.zipRight(
          progress.close,
          Effect.sync(() => {
            unregister?.()
            process.stdout.write(
              "\n" + Report.summary(concluded.results, {
                rerunFile: NodePath.join(concluded.dir, Report.fileNames.rerun),
                reportFile: NodePath.join(concluded.dir, Report.fileNames.text)
              })
            )
            process.stdout.write(`\nresults: ${concluded.dir}\n`)
          })
        )
    }).pipe(
      Effect.provide(layer),
      Effect.mapError((e) => new UsageError({ problem: e.message, fix: fixFor(e) })),
      Effect.ensuring(Effect.zipRight(progress.close, Effect.sync(() => unregister?.())))
    )
    return Results.exitCode(session.results)
  })
