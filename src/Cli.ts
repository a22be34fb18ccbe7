/**
 * The `ducktape` command line: `ducktape [paths…]` runs tests; `lab`, `clean`, `report merge` and `examples`
 * are subcommands. Every flag is documented in `--help`.
 *
 * Exit codes: 0 when every test passed (or was flaky or ignored), 1 when any failed or did not run,
 * 2 for usage and configuration errors.
 *
 * @since 0.1.0
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
// Module by module, not the package index: the index loads all of @effect/cli (~0.3 s more at every start).
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Cause, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import * as Clean from "./Clean.js"
import * as Cluster from "./Cluster.js"
import * as Discovery from "./Discovery.js"
import * as Docker from "./Docker.js"
import * as ClusterPool from "./internal/cluster.js"
import * as Lab from "./Lab.js"
import { makeProgress } from "./internal/progress.js"
import * as selection from "./internal/selection.js"
import * as Report from "./Report.js"
import * as Results from "./Results.js"
import * as Runner from "./Runner.js"
import { errorText } from "./internal/errorText.js"

/** The framework's version (from package.json). */
export const version: string = (() => {
  try {
    const pkg = JSON.parse(NodeFs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string }
    return pkg.version ?? "0.0.0"
  } catch {
    return "0.0.0"
  }
})()

/** The bundled example suite. */
export const examplesDir: string = NodePath.resolve(NodePath.dirname(new URL(import.meta.url).pathname), "../examples")

/** A problem with how the command was invoked or configured: exit code 2. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  problem: Schema.String,
  fix: Schema.String
}) {
  override get message(): string {
    return this.fix === "" ? this.problem : `${this.problem}\n  fix: ${this.fix}`
  }
}

/** What a command handler ends with: the exit code the process should have. */
export class ExitStatus extends Schema.TaggedError<ExitStatus>()("ExitStatus", { code: Schema.Number }) {}

// ---------------------------------------------------------------------------------------------------------
// Flags of `ducktape [paths…]`
// ---------------------------------------------------------------------------------------------------------

const paths = Args.text({ name: "path" }).pipe(
  Args.withDescription(
    "Test files (*.ducktape.ts), directories, globs, symbols (file::Suite.test@{\"k\":1}) or suite files (.yml). " +
      "Default: the current directory."
  ),
  Args.repeated
)
const runOptions = {
  paths,
  exclude: Options.text("exclude").pipe(Options.repeated, Options.withDescription("Symbols to leave out (repeatable), also from suite files.")),
  collectOnly: Options.boolean("collect-only").pipe(Options.withDescription("List the selected tests and exit.")),
  collectNumNodes: Options.boolean("collect-num-nodes").pipe(Options.withDescription("Print how many nodes the selected tests need in total, and exit.")),
  cluster: Options.text("cluster").pipe(
    Options.withDescription("The built-in cluster, localhost:N: N nodes on this machine, each with its own loopback address (default localhost:8); or a module of yours (./my-cluster.ts) whose default export is a Layer providing Cluster."),
    Options.optional
  ),
  clusterFile: Options.text("cluster-file").pipe(Options.withDescription("A ducktape cluster.json of ssh nodes (e.g. one written by `ducktape lab up`)."), Options.optional),
  sshConfig: Options.text("ssh-config").pipe(Options.withDescription("An OpenSSH config whose Host entries are the nodes (e.g. `vagrant ssh-config > file`)."), Options.optional),
  resultsRoot: Options.text("results-root").pipe(Options.withDescription("Where session result directories go."), Options.withDefault("results")),
  maxParallel: Options.integer("max-parallel").pipe(Options.withDescription("Most tests running at once (each on its own nodes)."), Options.withDefault(4)),
  testTimeout: Options.text("test-timeout").pipe(Options.withDescription("Timeout of tests that set none, e.g. \"10 minutes\" or 600s (default 30 minutes)."), Options.optional),
  exitFirst: Options.boolean("exit-first").pipe(Options.withDescription("Start no new test after the first failure.")),
  deflake: Options.integer("deflake").pipe(Options.withDescription("Runs allowed for a failing test; a later pass is FLAKY."), Options.withDefault(1)),
  repeat: Options.integer("repeat").pipe(Options.withDescription("Run the selection N times."), Options.withDefault(1)),
  subsets: Options.integer("subsets").pipe(Options.withDescription("Split the selection into N shards (for several CI machines)."), Options.withDefault(1)),
  subset: Options.integer("subset").pipe(Options.withDescription("Which shard to run, 0-based."), Options.withDefault(0)),
  enableJvmLogs: Options.boolean("enable-jvm-logs").pipe(Options.withDescription("JVMs that services start log GC and dump their heap on OOM (JDK 9+), collected with the service's logs.")),
  historicalReport: Options.text("historical-report").pipe(Options.withDescription("A previous report.json (a file or an http(s) URL): balance shards by its test durations."), Options.optional),
  sample: Options.integer("sample").pipe(Options.withDescription("Run a random sample of N of the selected tests."), Options.optional),
  parameters: Options.text("parameters").pipe(Options.withDescription("JSON object: run every selected test with exactly these parameters."), Options.optional),
  globals: Options.text("globals").pipe(Options.withDescription("JSON object, or a path to a JSON file, readable by tests as TestContext.globals."), Options.optional),
  noTeardown: Options.boolean("no-teardown").pipe(Options.withDescription("Leave services running after each test, for debugging; their nodes stay taken, so later tests that no longer fit are not run (logs are still collected; the next run or `ducktape clean` removes what was left).")),
  failBadClusterUtilization: Options.boolean("fail-bad-cluster-utilization").pipe(Options.withDescription("Fail tests that used fewer nodes than they declared.")),
  debug: Options.boolean("debug").pipe(Options.withDescription("Echo every test's debug log to the terminal.")),
  configFile: Options.text("config-file").pipe(Options.withDescription("A file of default flags, instead of ~/.ducktape/config; ./.ducktape/config is read first, the command line wins over both."), Options.optional)
}

type RunFlags = Command.Command.ParseConfig<typeof runOptions>

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

/** Whether a cluster file was written by `ducktape lab up` (it has a top-level `lab` key). */
const isLabClusterFile = (path: string): boolean => {
  try {
    const json = JSON.parse(NodeFs.readFileSync(path, "utf8")) as { lab?: unknown; docker?: unknown }
    // `docker up` writes a `docker` key: containers, too, are hosts with network stacks of their own.
    return typeof json === "object" && json !== null && (json.lab !== undefined || json.docker !== undefined)
  } catch {
    return false // the cluster source reports an unreadable or malformed file properly
  }
}

/**
 * A cluster of the user's own making (Docker containers, cloud VMs…), like ducktape's `--cluster MOD.CLASS`: a module
 * whose default export (or `cluster` export) is a Layer providing Cluster, its nodes given to `Cluster.make`.
 */
const moduleCluster = (path: string) =>
  Effect.gen(function*() {
    const absolute = NodePath.resolve(path)
    const usage = "export default a Layer providing Cluster, e.g. Layer.scoped(Cluster.Cluster, Effect.flatMap(makeNodes, Cluster.make))"
    if (!NodeFs.existsSync(absolute)) return yield* fail(`--cluster ${path}: no such file`, `check the path (relative to ${process.cwd()})`)
    const module = yield* Effect.tryPromise({
      try: () => import(/* @vite-ignore */ NodeUrl.pathToFileURL(absolute).href) as Promise<Record<string, unknown>>,
      catch: (e) => new UsageError({ problem: `--cluster ${path}: cannot import it: ${errorText(e)}`, fix: "fix the module" })
    })
    const exported = module["default"] ?? module["cluster"]
    if (!Layer.isLayer(exported)) return yield* fail(`--cluster ${path}: it exports no Layer (as default or \`cluster\`)`, usage)
    const provided = Effect.flatMap(Effect.serviceOption(Cluster.Cluster), (cluster) =>
      Option.isNone(cluster)
        ? fail(`--cluster ${path}: its Layer does not provide Cluster`, usage)
        : ClusterPool.coreOf(cluster.value) === undefined
        ? fail(`--cluster ${path}: its Cluster was not made by Cluster.make`, "give your nodes to Cluster.make: the runner allocates them through it")
        : Effect.succeed(cluster.value))
    return Layer.effect(Cluster.Cluster, provided).pipe(
      Layer.provide(exported as Layer.Layer<unknown, unknown>),
      // A Layer that fails, or dies (it needs a service nobody provides, say), is the module's problem to fix.
      Layer.catchAllCause((cause) => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure) && failure.value instanceof UsageError) return Layer.fail(failure.value)
        const what = Option.isSome(failure) ? errorText(failure.value) : Cause.pretty(cause).split("\n")[0]
        return Layer.fail(new UsageError({ problem: `--cluster ${path}: its Layer failed: ${what}`, fix: "" }))
      })
    )
  })

/** A cluster as the run needs it: its errors explain themselves. */
type ClusterLayer = Layer.Layer<Cluster.Cluster, { readonly _tag: string; readonly message: string }>

/** The cluster Layer the flags ask for. */
const clusterLayer = (flags: Pick<RunFlags, "cluster" | "clusterFile" | "sshConfig">, keepLocalhost = false) =>
  Effect.gen(function*(): Effect.fn.Return<ClusterLayer, UsageError> {
    const chosen = [flags.cluster, flags.clusterFile, flags.sshConfig].filter(Option.isSome).length
    if (chosen > 1) return yield* fail("--cluster, --cluster-file and --ssh-config exclude each other", "pass only one of them")
    if (Option.isSome(flags.clusterFile)) return Cluster.fromFile(flags.clusterFile.value)
    if (Option.isSome(flags.sshConfig)) return Cluster.fromSshConfig(flags.sshConfig.value)
    const spec = Option.getOrElse(flags.cluster, () => "localhost:8")
    if (/\.[cm]?[jt]s$/.test(spec)) return yield* moduleCluster(spec)
    const docker = Docker.parseClusterFlag(spec)
    if (Option.isSome(docker)) {
      return typeof docker.value === "string" ? yield* fail(docker.value, "use --cluster docker:N or docker:N,TYPE=N (types: small, medium, large)") : Docker.layer(docker.value)
    }
    const m = /^localhost(?::(\d+))?$/.exec(spec)
    if (m === null) {
      return yield* fail(`--cluster ${JSON.stringify(spec)} is not a cluster this tool knows`, "use --cluster localhost:N or --cluster ./my-cluster.ts (a module), or --cluster-file FILE / --ssh-config FILE for ssh nodes")
    }
    return Cluster.localhost({ numNodes: m[1] === undefined ? 8 : Number(m[1]), keep: keepLocalhost })
  })

const runTests = (flags: RunFlags, argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const unknownFlag = flags.paths.find((p) => p.startsWith("--"))
    if (unknownFlag !== undefined) return yield* fail(`unknown flag ${unknownFlag}`, "see `ducktape --help` for the flags")
    if (flags.subsets < 1 || flags.subset < 0 || flags.subset >= flags.subsets) {
      return yield* fail(`--subset ${flags.subset} is not one of the ${flags.subsets} shards`, `pass --subset from 0 to ${flags.subsets - 1}`)
    }
    if (flags.maxParallel < 1) return yield* fail("--max-parallel must be at least 1", "pass --max-parallel 1 or more")
    const testTimeout = Option.isSome(flags.testTimeout) ? yield* parseDuration(flags.testTimeout.value) : undefined
    const parameters = Option.isSome(flags.parameters) ? yield* parseJsonObject("--parameters", flags.parameters.value, false) : undefined
    const globals = Option.isSome(flags.globals) ? yield* parseJsonObject("--globals", flags.globals.value, true) : {}

    // Tests that need real hosts (e.g. network faults) declare env DUCKTAPE_LAB=1; a lab's cluster file is that.
    if (Option.isSome(flags.clusterFile) && process.env.DUCKTAPE_LAB === undefined && isLabClusterFile(flags.clusterFile.value)) {
      process.env.DUCKTAPE_LAB = "1"
    }
    if (Option.isSome(flags.cluster) && process.env.DUCKTAPE_LAB === undefined && Option.isSome(Docker.parseClusterFlag(flags.cluster.value))) {
      process.env.DUCKTAPE_LAB = "1"
    }
    const discovered = yield* Discovery.discover({
      paths: flags.paths.length === 0 ? ["."] : flags.paths,
      exclude: flags.exclude,
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
      if (n < 1) return yield* fail(`--sample ${n} would run nothing`, "pass --sample 1 or more, or leave it out to run every selected test")
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
      return discovered.loadFailures.length > 0 ? 1 : 0
    }
    if (flags.collectNumNodes) {
      yield* Effect.sync(() => process.stdout.write(`${cases.reduce((n, c) => n + Cluster.specSize(c.spec), 0)}\n`))
      return 0
    }

    const layer = yield* clusterLayer(flags, flags.noTeardown)
    const progress = makeProgress(process.stdout)
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
      argv,
      version,
      onEvent: progress.onEvent,
      // Printed when the reports are written: after Ctrl-C too, when nothing after `run` happens.
      onConcluded: (concluded) =>
        Effect.zipRight(
          progress.close,
          Effect.sync(() => {
            process.stdout.write("\n" + Report.text(concluded.results, { rerunFile: NodePath.join(concluded.dir, "rerun-failed.yml") }))
            process.stdout.write(`\nresults: ${concluded.dir}\n`)
          })
        )
    }).pipe(
      Effect.provide(layer),
      Effect.mapError((e) => new UsageError({ problem: e.message, fix: fixFor(e) })),
      Effect.ensuring(progress.close)
    )
    return Results.exitCode(session.results)
  })

/** A fix line for errors whose message does not already carry one. */
const fixFor = (e: { readonly _tag: string }) =>
  e._tag === "UnreachableNodes" ? "check that each node is up and its ssh settings in the cluster definition are right" : ""

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
      Either.mapLeft((e) => new UsageError({ problem: `--historical-report ${path}: ${e.message}`, fix: "pass the report.json of an earlier run" }))
    )
    return new Map(session.results.map((r) => [r.testId, r.runTimeSeconds]))
  })

/** Flags that may be given several times: a config's values add up, the command line's replace them. */
const repeatable: ReadonlySet<string> = new Set(["--exclude"])
/** Flags that choose the cluster: one of them given (anywhere later in the precedence) overrides the others. */
const clusterFlags: ReadonlySet<string> = new Set(["--cluster", "--cluster-file", "--ssh-config"])

/** A config file's (or the command line's) tokens as flags with their values; `--flag=value` is split. */
const flagsOf = (tokens: ReadonlyArray<string>): Array<{ readonly flag: string; readonly value: string | undefined }> => {
  const out: Array<{ flag: string; value: string | undefined }> = []
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (!t.startsWith("--")) continue
    const eq = t.indexOf("=")
    if (eq > 0) out.push({ flag: t.slice(0, eq), value: t.slice(eq + 1) })
    else out.push({ flag: t, value: tokens[i + 1] !== undefined && !tokens[i + 1]!.startsWith("--") ? tokens[++i] : undefined })
  }
  return out
}

/**
 * Flags from config files for what the command line does not set, with ducktape's precedence: ./.ducktape/config,
 * then ~/.ducktape/config (or --config-file, which must exist), then the command line; later wins.
 */
const withConfigDefaults = (argv: ReadonlyArray<string>): Either.Either<ReadonlyArray<string>, UsageError> => {
  const given = flagsOf(argv)
  const explicitFlag = given.find((f) => f.flag === "--config-file")
  const explicit = explicitFlag?.value
  if (explicitFlag !== undefined && (explicit === undefined || !NodeFs.existsSync(explicit))) {
    return Either.left(new UsageError({
      problem: explicit === undefined ? "--config-file: no file given" : `--config-file ${explicit}: no such file`,
      fix: "give the path of a file of ducktape flags (one or more per line; # starts a comment)"
    }))
  }
  const files = [NodePath.resolve(".ducktape/config"), explicit ?? NodePath.join(NodeOs.homedir(), ".ducktape/config")]
  // Walk from the strongest source down; a flag the stronger source set is not taken from a weaker one.
  const sources: Array<ReadonlyArray<{ readonly flag: string; readonly value: string | undefined }>> = [given]
  for (const file of [...files].reverse()) {
    let text: string
    try {
      text = NodeFs.readFileSync(file, "utf8")
    } catch {
      continue
    }
    sources.push(flagsOf(text.split("\n").filter((l) => !/^\s*(#|$)/.test(l)).join(" ").split(/\s+/).filter((t) => t !== "")))
  }
  const keyOf = (flag: string) => (clusterFlags.has(flag) ? "cluster" : flag)
  const taken = new Set<string>()
  const extra: Array<string> = []
  for (const [i, flags] of sources.entries()) {
    const fromHere = new Set<string>()
    for (const { flag, value } of flags) {
      if (flag === "--config-file" || taken.has(keyOf(flag))) continue // a stronger source set it
      if (fromHere.has(flag) && !repeatable.has(flag)) continue // twice in one file: the first counts
      fromHere.add(flag)
      if (i > 0) extra.push(flag, ...(value === undefined ? [] : [value]))
    }
    for (const flag of fromHere) taken.add(keyOf(flag))
  }
  return Either.right(extra)
}

// ---------------------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------------------

const finishWith = (code: number) => (code === 0 ? Effect.void : Effect.fail(new ExitStatus({ code })))

const root = (argv: ReadonlyArray<string>) =>
  Command.make("ducktape", runOptions, (flags) => Effect.flatMap(runTests(flags, argv), finishWith)).pipe(
    Command.withDescription("Run system tests of distributed software on a cluster.")
  )

const labName = Options.text("name").pipe(Options.withDescription("The lab's name (1-8 lowercase letters/digits)."), Options.withDefault("dtlab"))
const labDir = Options.text("dir").pipe(Options.withDescription("Where the lab keeps its state, keys and cluster.json."), Options.withDefault(".ducktape/lab"))

const labUp = Command.make("up", {
  nodes: Options.integer("nodes").pipe(Options.withDescription("How many hosts."), Options.withDefault(3)),
  name: labName,
  dir: labDir
}, (o) =>
  Effect.gen(function*() {
    const lab = yield* Lab.up({ nodes: o.nodes, name: o.name, dir: NodePath.resolve(o.dir) })
    yield* Effect.sync(() => {
      process.stdout.write(`lab ${lab.name} is up: ${lab.nodes.map((n) => `${n.name}=${n.address}`).join(" ")}\n`)
      process.stdout.write(`cluster file: ${lab.clusterFile}\nrun tests on it: npx ducktape --cluster-file ${NodePath.relative(process.cwd(), lab.clusterFile)} <paths>\n`)
      process.stdout.write(`take it down: npx ducktape lab down --name ${lab.name} --dir ${o.dir}\n`)
    })
  })).pipe(Command.withDescription("Create N hosts as network namespaces, each with its own address, hostname, workdir and sshd (needs root)."))

const labDown = Command.make("down", { name: labName, dir: labDir }, (o) =>
  Effect.gen(function*() {
    const summary = yield* Lab.down({ name: o.name, dir: NodePath.resolve(o.dir) })
    yield* Effect.sync(() =>
      process.stdout.write(
        `lab ${summary.name} is down: removed ${summary.namespaces.length} namespaces, ${summary.links.length} links, ` +
          `${summary.processes} processes, ${summary.iptablesRules} iptables rules\n`
      )
    )
  })).pipe(Command.withDescription("Remove everything a lab made (also after a crash)."))

const lab = Command.make("lab").pipe(
  Command.withDescription("A multi-host lab on this machine, made of network namespaces."),
  Command.withSubcommands([labUp, labDown])
)

const reportMerge = Command.make("merge", {
  inputs: Args.text({ name: "report.json" }).pipe(Args.withDescription("report.json files (or session directories) of the shards."), Args.atLeast(1)),
  out: Options.text("out").pipe(Options.withDescription("Directory to write the merged reports into."), Options.withDefault("results/merged"))
}, (o) =>
  Effect.gen(function*() {
    const sessions = yield* Effect.forEach(o.inputs, (input) =>
      Effect.gen(function*() {
        const file = NodeFs.existsSync(NodePath.join(input, "report.json")) ? NodePath.join(input, "report.json") : input
        const text = yield* Effect.try({
          try: () => NodeFs.readFileSync(file, "utf8"),
          catch: () => new UsageError({ problem: `cannot read ${file}`, fix: "pass report.json files or session directories" })
        })
        return yield* Report.decodeJson(text).pipe(Either.mapLeft((e) => new UsageError({ problem: `${file}: ${e.message}`, fix: "pass report.json files written by ducktape" })))
      }))
    const merged = Report.merge(sessions)
    yield* Effect.sync(() => NodeFs.mkdirSync(o.out, { recursive: true }))
    yield* Report.writeAll(o.out, merged).pipe(Effect.mapError((e) => new UsageError({ problem: e.message, fix: "choose another --out" })))
    yield* Effect.sync(() => process.stdout.write(Report.text(merged) + `\nmerged reports: ${o.out}\n`))
    return yield* finishWith(Results.exitCode(merged))
  })).pipe(Command.withDescription("Merge the report.json files of several shards into one set of reports."))

const cleanCommand = Command.make("clean", {
  cluster: runOptions.cluster,
  clusterFile: runOptions.clusterFile,
  sshConfig: runOptions.sshConfig,
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Only list what would be removed."))
}, (o) =>
  Effect.gen(function*() {
    // Containers of dead sessions on the Docker engine(s) (DOCKER_HOST, DUCKTAPE_DOCKER_ENDPOINTS); a docker cluster
    // is not made just to be scanned.
    yield* dockerClean(o.dryRun, Option.isSome(Option.flatMap(o.cluster, Docker.parseClusterFlag)))
    if (Option.isSome(Option.flatMap(o.cluster, Docker.parseClusterFlag))) return
    // The localhost cluster's nodes are all this machine: one node is enough to scan it.
    const layer = yield* clusterLayer({ ...o, cluster: Option.isNone(o.cluster) && Option.isNone(o.clusterFile) && Option.isNone(o.sshConfig) ? Option.some("localhost:1") : o.cluster })
    const removed = yield* Effect.flatMap(Cluster.Cluster, (c) => Clean.clean(c.all, { dryRun: o.dryRun })).pipe(
      Effect.provide(layer),
      Effect.mapError((e) => new UsageError({ problem: e.message, fix: fixFor(e) }))
    )
    yield* Effect.sync(() =>
      process.stdout.write(`${Clean.describe(removed)}\n${removed.length === 0 ? "" : o.dryRun ? `${removed.length} leftovers found (dry run: nothing removed)\n` : `removed ${removed.length} leftovers\n`}`)
    )
  })).pipe(Command.withDescription("Find and remove what crashed sessions left on the nodes: processes, iptables rules, bandwidth limits, scratch directories."))

/**
 * `ducktape clean`'s Docker part: containers, networks and volumes of dead sessions. Without a docker cluster named,
 * an engine that is not there is no error (the run may never have used Docker).
 */
const dockerClean = (dryRun: boolean, asked: boolean) =>
  Effect.gen(function*() {
    const endpoints = (process.env["DUCKTAPE_DOCKER_ENDPOINTS"] ?? "").split(",").map((e) => e.trim()).filter((e) => e !== "")
    const result = yield* Effect.either(Docker.clean({ dryRun, ...(endpoints.length === 0 ? {} : { endpoints }) }))
    if (result._tag === "Left") {
      if (asked || !["no-daemon", "missing-tool"].includes(result.left.reason)) {
        return yield* fail(result.left.message.split("\n  fix: ")[0]!, result.left.message.split("\n  fix: ")[1] ?? "")
      }
      return 0
    }
    const found = result.right
    yield* Effect.sync(() => {
      if (found.length > 0) {
        process.stdout.write(`${Docker.describeLeftovers(found)}\n${dryRun ? `${found.length} docker leftovers found (dry run: nothing removed)` : `removed ${found.length} docker leftovers`}\n`)
      } else if (asked) process.stdout.write("no docker leftovers found\n")
    })
    return found.length
  })

const dockerName = Options.text("name").pipe(Options.withDescription("The docker cluster's name (1-10 lowercase letters/digits)."), Options.withDefault("dtdocker"))
const dockerDir = Options.text("dir").pipe(Options.withDescription("Where the docker cluster keeps its state, key and cluster.json."), Options.withDefault(".ducktape/docker"))
const dockerEndpoints = Options.text("endpoint").pipe(
  Options.repeated,
  Options.withDescription("A Docker engine to put nodes on (repeatable): unix:///path, tcp://HOST:PORT, ssh://USER@HOST or context:NAME. Default: DOCKER_HOST or the CLI's context.")
)

const dockerUp = Command.make("up", {
  nodes: Options.text("nodes").pipe(Options.withDescription("The nodes: N, or N,TYPE=N (e.g. 2,large=1)."), Options.withDefault("3")),
  name: dockerName,
  dir: dockerDir,
  endpoint: dockerEndpoints,
  image: Options.text("image").pipe(Options.withDescription("An image with /bin/sh and sshd. Default: one built from Debian packages."), Options.optional),
  packages: Options.text("package").pipe(Options.repeated, Options.withDescription("A Debian package to bake into the nodes' image (repeatable)."))
}, (o) =>
  Effect.gen(function*() {
    const parsed = Docker.parseClusterFlag(`docker:${o.nodes}`)
    if (Option.isNone(parsed) || typeof parsed.value === "string") {
      return yield* fail(`--nodes ${o.nodes} is not N or N,TYPE=N`, "pass e.g. --nodes 3 or --nodes 2,large=1")
    }
    const cluster = yield* Docker.up({
      ...parsed.value,
      name: o.name,
      dir: NodePath.resolve(o.dir),
      ...(o.endpoint.length === 0 ? {} : { endpoints: o.endpoint }),
      ...(Option.isSome(o.image) ? { image: o.image.value } : {}),
      ...(o.packages.length === 0 ? {} : { packages: o.packages })
    }).pipe(Effect.mapError((e) => new UsageError({ problem: e.message, fix: "" })))
    yield* Effect.sync(() => {
      process.stdout.write(`docker cluster ${cluster.name} is up: ${cluster.nodes.map((n) => `${n.name}=${n.address}`).join(" ")}\n`)
      process.stdout.write(`cluster file: ${cluster.clusterFile}\nrun tests on it: npx ducktape --cluster-file ${NodePath.relative(process.cwd(), cluster.clusterFile)} <paths>\n`)
      process.stdout.write(`take it down: npx ducktape docker down --dir ${o.dir}\n`)
    })
  })).pipe(Command.withDescription("Start N Docker containers as nodes (each with its own hostname, address and sshd) and write a cluster file."))

const dockerDown = Command.make("down", {
  name: Options.text("name").pipe(Options.withDescription("The docker cluster's name, when its --dir is gone."), Options.optional),
  dir: dockerDir,
  endpoint: dockerEndpoints
}, (o) =>
  Effect.gen(function*() {
    const summary = yield* Docker.down({
      dir: NodePath.resolve(o.dir),
      ...(Option.isSome(o.name) ? { name: o.name.value } : {}),
      ...(o.endpoint.length === 0 ? {} : { endpoints: o.endpoint })
    }).pipe(Effect.mapError((e) => new UsageError({ problem: e.message, fix: "" })))
    yield* Effect.sync(() =>
      process.stdout.write(`docker cluster ${summary.name} is down: removed ${summary.containers} containers, ${summary.networks} networks\n`)
    )
  })).pipe(Command.withDescription("Remove a docker cluster `docker up` made."))

const dockerCommand = Command.make("docker").pipe(
  Command.withDescription("Docker containers as cluster nodes that stay up between runs."),
  Command.withSubcommands([dockerUp, dockerDown])
)

const report = Command.make("report").pipe(Command.withDescription("Work with reports."), Command.withSubcommands([reportMerge]))

/** The whole command tree. */
export const command = (argv: ReadonlyArray<string>) => root(argv).pipe(Command.withSubcommands([lab, report, cleanCommand, dockerCommand]))

/** Runs the CLI on `process.argv`-style arguments (node, script, ...args), returning the exit code. */
export const main = (argv: ReadonlyArray<string>) => {
  // `ducktape examples [flags]` runs the bundled example suite with any of the run flags.
  const given = argv.slice(2)
  const args = given[0] === "examples" ? [examplesDir, ...given.slice(1)] : given
  const defaults = ["lab", "report", "clean", "docker"].includes(args[0] ?? "") ? Either.right([]) : withConfigDefaults(args)
  if (Either.isLeft(defaults)) return Effect.fail(defaults.left)
  return Command.run(command(args), { name: "ducktape", version })([...argv.slice(0, 2), ...args, ...defaults.right])
}

