/**
 * The `ducktape` command line: `ducktape [paths…]` runs tests; `lab`, `clean`, `report merge`, `check` and
 * `examples` are subcommands. Every flag is documented in `--help`.
 *
 * Exit codes: 0 when every test passed (or was flaky or ignored), 1 when any failed or did not run,
 * 2 for usage and configuration errors. `ducktape check`: 0 linearizable, 1 not, 2 bad input, 3 unknown (a limit hit).
 *
 * This module holds only the flags and the command tree: each command's handler loads its machinery when it runs
 * (`import()`), so that `--help`, `--version` and a mistyped flag cost no more than @effect/cli.
 *
 * @since 0.1.0
 */
// Module by module, not the package index: the index loads all of @effect/cli (~0.3 s more at every start).
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import { Console, Effect } from "effect"
import { checkFlags, commandOf, commands, type FlagProblem, useColor } from "./internal/cli/flags.js"
import { flagsOf } from "./internal/cli/options.js"
import { helpOrVersion } from "./internal/cli/help.js"
import { withConfigDefaults } from "./internal/cli/config.js"
import { ExitStatus, UsageError } from "./internal/cli/errors.js"
import { examplesDir, version } from "./internal/cli/version.js"

export {
  /** What a command handler ends with: the exit code the process should have. */
  ExitStatus,
  /** A problem with how the command was invoked or configured: exit code 2. */
  UsageError
} from "./internal/cli/errors.js"
export {
  /** The bundled example suite. */
  examplesDir,
  /** The framework's version (from package.json). */
  version
} from "./internal/cli/version.js"

// ---------------------------------------------------------------------------------------------------------
// Flags of `ducktape [paths…]`: names, descriptions and defaults are in internal/cli/flags.ts, which renders --help.
// ---------------------------------------------------------------------------------------------------------

const run = flagsOf([])
const runOptions = {
  paths: Args.text({ name: "path" }).pipe(Args.repeated),
  exclude: run.texts("exclude"),
  collectOnly: run.boolean("collect-only"),
  collectNumNodes: run.boolean("collect-num-nodes"),
  cluster: run.text("cluster"),
  clusterFile: run.text("cluster-file"),
  sshConfig: run.text("ssh-config"),
  resultsRoot: run.textOrDefault("results-root"),
  maxParallel: run.integerOrDefault("max-parallel"),
  testTimeout: run.text("test-timeout"),
  exitFirst: run.boolean("exit-first"),
  deflake: run.integerOrDefault("deflake"),
  repeat: run.integerOrDefault("repeat"),
  subsets: run.integerOrDefault("subsets"),
  subset: run.integerOrDefault("subset"),
  enableJvmLogs: run.boolean("enable-jvm-logs"),
  historicalReport: run.text("historical-report"),
  sample: run.integer("sample"),
  parameters: run.text("parameters"),
  globals: run.text("globals"),
  noTeardown: run.boolean("no-teardown"),
  failBadClusterUtilization: run.boolean("fail-bad-cluster-utilization"),
  debug: run.boolean("debug"),
  configFile: run.text("config-file")
}

/**
 * The parsed flags of `ducktape [paths…]`.
 *
 * @since 0.1.0
 * @category models
 */
export type RunFlags = Command.Command.ParseConfig<typeof runOptions>

// ---------------------------------------------------------------------------------------------------------
// Commands: each handler imports its machinery when it runs.
// ---------------------------------------------------------------------------------------------------------

const finishWith = (code: number) => (code === 0 ? Effect.void : Effect.fail(new ExitStatus({ code })))

const root = (argv: ReadonlyArray<string>) =>
  Command.make("ducktape", runOptions, (flags) =>
    Effect.promise(() => import("./internal/cli/run.js")).pipe(
      Effect.flatMap((m) => m.runTests(flags, argv)),
      Effect.flatMap(finishWith)
    )).pipe(Command.withDescription(commands[0]!.summary))

const labUpFlags = flagsOf(["lab", "up"])
const labUp = Command.make("up", {
  nodes: labUpFlags.integerOrDefault("nodes"),
  name: labUpFlags.textOrDefault("name"),
  dir: labUpFlags.textOrDefault("dir")
}, (o) => Effect.flatMap(Effect.promise(() => import("./internal/cli/lab.js")), (m) => m.up(o)))

const labDownFlags = flagsOf(["lab", "down"])
const labDown = Command.make("down", { name: labDownFlags.textOrDefault("name"), dir: labDownFlags.textOrDefault("dir") }, (o) =>
  Effect.flatMap(Effect.promise(() => import("./internal/cli/lab.js")), (m) => m.down(o)))

const lab = Command.make("lab").pipe(Command.withSubcommands([labUp, labDown]))

const dockerUpFlags = flagsOf(["docker", "up"])
const dockerUp = Command.make("up", {
  nodes: dockerUpFlags.textOrDefault("nodes"),
  name: dockerUpFlags.textOrDefault("name"),
  dir: dockerUpFlags.textOrDefault("dir"),
  endpoint: dockerUpFlags.texts("endpoint"),
  image: dockerUpFlags.text("image"),
  packages: dockerUpFlags.texts("package")
}, (o) => Effect.flatMap(Effect.promise(() => import("./internal/cli/docker.js")), (m) => m.up(o)))

const dockerDownFlags = flagsOf(["docker", "down"])
const dockerDown = Command.make("down", {
  name: dockerDownFlags.text("name"),
  dir: dockerDownFlags.textOrDefault("dir"),
  endpoint: dockerDownFlags.texts("endpoint")
}, (o) => Effect.flatMap(Effect.promise(() => import("./internal/cli/docker.js")), (m) => m.down(o)))

const docker = Command.make("docker").pipe(Command.withSubcommands([dockerUp, dockerDown]))

const reportMerge = Command.make("merge", {
  inputs: Args.text({ name: "report.json" }).pipe(Args.atLeast(1)),
  out: flagsOf(["report", "merge"]).textOrDefault("out")
}, (o) =>
  Effect.promise(() => import("./internal/cli/merge.js")).pipe(
    Effect.flatMap((m) => m.merge(o)),
    Effect.flatMap(finishWith)
  ))

const cleanFlags = flagsOf(["clean"])
const cleanCommand = Command.make("clean", {
  cluster: cleanFlags.text("cluster"),
  clusterFile: cleanFlags.text("cluster-file"),
  sshConfig: cleanFlags.text("ssh-config"),
  dryRun: cleanFlags.boolean("dry-run")
}, (o) => Effect.flatMap(Effect.promise(() => import("./internal/cli/clean.js")), (m) => m.clean(o)))

const report = Command.make("report").pipe(Command.withSubcommands([reportMerge]))

const checkCommandFlags = flagsOf(["check"])
const checkCommand = Command.make("check", {
  file: Args.text({ name: "file" }),
  model: checkCommandFlags.text("model"),
  timeLimit: checkCommandFlags.text("time-limit")
}, (o) =>
  Effect.promise(() => import("./internal/cli/check.js")).pipe(
    Effect.flatMap((m) => m.check(o)),
    Effect.flatMap(finishWith)
  ))

/**
 * The whole command tree.
 *
 * @since 0.1.0
 * @category utils
 */
export const command = (argv: ReadonlyArray<string>) => root(argv).pipe(Command.withSubcommands([lab, docker, report, cleanCommand, checkCommand]))

/** Text for a stream that shows no colors: @effect/cli's messages come with ANSI escapes. */
const plain = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? a.replace(/\x1b\[[0-9;]*m/g, "") : a))

const usage = (p: FlagProblem) => Effect.fail(new UsageError(p))

/**
 * Runs the CLI on `process.argv`-style arguments (node, script, ...args).
 *
 * @since 0.1.0
 * @category utils
 */
export const main = (argv: ReadonlyArray<string>) => {
  // `ducktape examples [flags]` runs the bundled example suite with any of the run flags.
  const given = argv.slice(2)
  const help = helpOrVersion(given)
  if (help !== undefined) return Effect.sync(() => process.stdout.write(help))
  const { command: which, rest } = commandOf(given)
  if (which.path.length > 0 && which.subcommands !== undefined) {
    const name = ["ducktape", ...which.path].join(" ")
    return usage({
      problem: `${name} needs a command: ${which.subcommands.join(" or ")}`,
      fix: `run e.g. ${name} ${which.subcommands[0]} (${name} --help lists them)`
    })
  }
  const args = given[0] === "examples" ? [examplesDir, ...given.slice(1)] : given
  const runs = which.path.length === 0 || which.path[0] === "examples"
  const defaults = runs ? withConfigDefaults(args) : { extra: [] }
  if ("problem" in defaults) return usage(defaults)
  const problem = checkFlags(which, [...rest, ...defaults.extra])
  if (problem !== undefined) return usage(problem)
  const full = [...args, ...defaults.extra]
  const run = Command.run(command(full), { name: "ducktape", version })([...argv.slice(0, 2), ...full])
  // @effect/cli prints its own messages (a missing argument, say) with ANSI escapes: not into a pipe, nor with NO_COLOR.
  return useColor(process.stderr)
    ? run
    : Effect.flatMap(Effect.console, (c) =>
      Console.withConsole(run, { ...c, log: (...a) => c.log(...plain(a)), error: (...a) => c.error(...plain(a)) }))
}
