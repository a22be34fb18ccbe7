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
import * as Options from "@effect/cli/Options"
import { Console, Effect } from "effect"
import { checkFlags, commandOf, commands, type Flag, type FlagProblem, useColor } from "./internal/cli/flags.js"
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
// Flags of `ducktape [paths…]`: descriptions and defaults are in internal/cli/flags.ts, which renders --help.
// ---------------------------------------------------------------------------------------------------------

const described = (list: ReadonlyArray<Flag>, name: string) => list.find((f) => f.name === name)?.description ?? ""
const runFlag = (name: string) => described(commands[0]!.flags, name)

const paths = Args.text({ name: "path" }).pipe(Args.repeated)
const runOptions = {
  paths,
  exclude: Options.text("exclude").pipe(Options.repeated, Options.withDescription(runFlag("exclude"))),
  collectOnly: Options.boolean("collect-only").pipe(Options.withDescription(runFlag("collect-only"))),
  collectNumNodes: Options.boolean("collect-num-nodes").pipe(Options.withDescription(runFlag("collect-num-nodes"))),
  cluster: Options.text("cluster").pipe(Options.withDescription(runFlag("cluster")), Options.optional),
  clusterFile: Options.text("cluster-file").pipe(Options.withDescription(runFlag("cluster-file")), Options.optional),
  sshConfig: Options.text("ssh-config").pipe(Options.withDescription(runFlag("ssh-config")), Options.optional),
  resultsRoot: Options.text("results-root").pipe(Options.withDescription(runFlag("results-root")), Options.withDefault("results")),
  maxParallel: Options.integer("max-parallel").pipe(Options.withDescription(runFlag("max-parallel")), Options.withDefault(4)),
  testTimeout: Options.text("test-timeout").pipe(Options.withDescription(runFlag("test-timeout")), Options.optional),
  exitFirst: Options.boolean("exit-first").pipe(Options.withDescription(runFlag("exit-first"))),
  deflake: Options.integer("deflake").pipe(Options.withDescription(runFlag("deflake")), Options.withDefault(1)),
  repeat: Options.integer("repeat").pipe(Options.withDescription(runFlag("repeat")), Options.withDefault(1)),
  subsets: Options.integer("subsets").pipe(Options.withDescription(runFlag("subsets")), Options.withDefault(1)),
  subset: Options.integer("subset").pipe(Options.withDescription(runFlag("subset")), Options.withDefault(0)),
  enableJvmLogs: Options.boolean("enable-jvm-logs").pipe(Options.withDescription(runFlag("enable-jvm-logs"))),
  historicalReport: Options.text("historical-report").pipe(Options.withDescription(runFlag("historical-report")), Options.optional),
  sample: Options.integer("sample").pipe(Options.withDescription(runFlag("sample")), Options.optional),
  parameters: Options.text("parameters").pipe(Options.withDescription(runFlag("parameters")), Options.optional),
  globals: Options.text("globals").pipe(Options.withDescription(runFlag("globals")), Options.optional),
  noTeardown: Options.boolean("no-teardown").pipe(Options.withDescription(runFlag("no-teardown"))),
  failBadClusterUtilization: Options.boolean("fail-bad-cluster-utilization").pipe(Options.withDescription(runFlag("fail-bad-cluster-utilization"))),
  debug: Options.boolean("debug").pipe(Options.withDescription(runFlag("debug"))),
  configFile: Options.text("config-file").pipe(Options.withDescription(runFlag("config-file")), Options.optional)
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

const labName = Options.text("name").pipe(Options.withDefault("dtlab"))
const labDir = Options.text("dir").pipe(Options.withDefault(".ducktape/lab"))

const labUp = Command.make("up", { nodes: Options.integer("nodes").pipe(Options.withDefault(3)), name: labName, dir: labDir }, (o) =>
  Effect.flatMap(Effect.promise(() => import("./internal/cli/lab.js")), (m) => m.up(o)))

const labDown = Command.make("down", { name: labName, dir: labDir }, (o) =>
  Effect.flatMap(Effect.promise(() => import("./internal/cli/lab.js")), (m) => m.down(o)))

const lab = Command.make("lab").pipe(Command.withSubcommands([labUp, labDown]))

const dockerName = Options.text("name").pipe(Options.withDefault("dtdocker"))
const dockerDir = Options.text("dir").pipe(Options.withDefault(".ducktape/docker"))
const dockerEndpoint = Options.text("endpoint").pipe(Options.repeated)

const dockerUp = Command.make("up", {
  nodes: Options.text("nodes").pipe(Options.withDefault("3")),
  name: dockerName,
  dir: dockerDir,
  endpoint: dockerEndpoint,
  image: Options.text("image").pipe(Options.optional),
  packages: Options.text("package").pipe(Options.repeated)
}, (o) => Effect.flatMap(Effect.promise(() => import("./internal/cli/docker.js")), (m) => m.up(o)))

const dockerDown = Command.make("down", { name: Options.text("name").pipe(Options.optional), dir: dockerDir, endpoint: dockerEndpoint }, (o) =>
  Effect.flatMap(Effect.promise(() => import("./internal/cli/docker.js")), (m) => m.down(o)))

const docker = Command.make("docker").pipe(Command.withSubcommands([dockerUp, dockerDown]))

const reportMerge = Command.make("merge", {
  inputs: Args.text({ name: "report.json" }).pipe(Args.atLeast(1)),
  out: Options.text("out").pipe(Options.withDefault("results/merged"))
}, (o) =>
  Effect.promise(() => import("./internal/cli/merge.js")).pipe(
    Effect.flatMap((m) => m.merge(o)),
    Effect.flatMap(finishWith)
  ))

const cleanCommand = Command.make("clean", {
  cluster: runOptions.cluster,
  clusterFile: runOptions.clusterFile,
  sshConfig: runOptions.sshConfig,
  dryRun: Options.boolean("dry-run")
}, (o) => Effect.flatMap(Effect.promise(() => import("./internal/cli/clean.js")), (m) => m.clean(o)))

const report = Command.make("report").pipe(Command.withSubcommands([reportMerge]))

const checkCommand = Command.make("check", {
  file: Args.text({ name: "file" }),
  model: Options.text("model").pipe(Options.optional),
  timeLimit: Options.text("time-limit").pipe(Options.optional)
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
