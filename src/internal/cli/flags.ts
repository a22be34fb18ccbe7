/**
 * The flags of every `ducktape` command as plain data: `--help` is rendered from here, and flags are checked here
 * (integers, unknown names with a did-you-mean) before @effect/cli parses them. This module imports nothing else
 * but the did-you-mean helper (which imports nothing), so that `ducktape --help` loads only them.
 */
import { nearest } from "../shared/nearest.js"

/** One flag. */
export interface Flag {
  readonly name: string
  readonly type: "boolean" | "integer" | "text"
  /** What the value is, in the usage line: N, FILE, JSON… */
  readonly value?: string
  readonly description: string
  /** The default, as shown in --help. */
  readonly default?: string
  /** The smallest integer the flag takes. */
  readonly min?: number
  /** What a value below the minimum means, when "less than N" says it badly. */
  readonly belowMin?: string
  readonly repeatable?: boolean
}

/** A command: its flags, arguments and examples. */
export interface CommandHelp {
  readonly path: ReadonlyArray<string>
  readonly summary: string
  readonly args?: string
  readonly flags: ReadonlyArray<Flag>
  readonly examples: ReadonlyArray<string>
  readonly subcommands?: ReadonlyArray<string>
}

const clusterFlags: ReadonlyArray<Flag> = [
  {
    name: "cluster",
    type: "text",
    value: "SPEC",
    description: "The built-in cluster, localhost:N: N nodes on this machine, each with its own loopback address; docker:N " +
      "(or docker:N,TYPE=N): N Docker containers made for the run; or a module of yours (./my-cluster.ts) whose default " +
      "export is a Layer providing Cluster.",
    default: "localhost:8"
  },
  { name: "cluster-file", type: "text", value: "FILE", description: "A ducktape cluster.json of ssh nodes (e.g. one written by `ducktape lab up`)." },
  { name: "ssh-config", type: "text", value: "FILE", description: "An OpenSSH config whose Host entries are the nodes (e.g. `vagrant ssh-config > file`)." }
]

/** The flags of `ducktape [paths…]` (and `ducktape examples`). */
export const runFlags: ReadonlyArray<Flag> = [
  { name: "exclude", type: "text", value: "SYMBOL", repeatable: true, description: "Symbols to leave out (repeatable), also from suite files." },
  { name: "collect-only", type: "boolean", description: "List the selected tests and exit." },
  { name: "collect-num-nodes", type: "boolean", description: "Print how many nodes the selected tests need in total, and exit." },
  ...clusterFlags,
  { name: "results-root", type: "text", value: "DIR", description: "Where session result directories go.", default: "results" },
  { name: "max-parallel", type: "integer", value: "N", min: 1, description: "Most tests running at once (each on its own nodes).", default: "4" },
  { name: "test-timeout", type: "text", value: "DURATION", description: "Timeout of tests that set none, e.g. \"10 minutes\" or 600s.", default: "30 minutes" },
  { name: "exit-first", type: "boolean", description: "Start no new test after the first failure." },
  { name: "deflake", type: "integer", value: "N", min: 1, description: "Runs allowed for a failing test; a later pass is FLAKY.", default: "1" },
  { name: "repeat", type: "integer", value: "N", min: 1, description: "Run the selection N times.", default: "1" },
  { name: "subsets", type: "integer", value: "N", min: 1, description: "Split the selection into N shards (for several CI machines).", default: "1" },
  { name: "subset", type: "integer", value: "I", min: 0, description: "Which shard to run, 0-based.", default: "0" },
  { name: "enable-jvm-logs", type: "boolean", description: "JVMs that services start log GC and dump their heap on OOM (JDK 9+), collected with the service's logs." },
  { name: "historical-report", type: "text", value: "FILE|URL", description: "A previous report.json (a file or an http(s) URL): balance shards by its test durations." },
  { name: "sample", type: "integer", value: "N", min: 1, belowMin: "would run nothing", description: "Run a random sample of N of the selected tests." },
  { name: "parameters", type: "text", value: "JSON", description: "JSON object: run every selected test with exactly these parameters." },
  { name: "globals", type: "text", value: "JSON|FILE", description: "JSON object, or a path to a JSON file, readable by tests as TestContext.globals." },
  {
    name: "no-teardown",
    type: "boolean",
    description: "Leave services running after each test, for debugging; their nodes stay taken, so later tests that no longer " +
      "fit are not run (logs are still collected; the next run or `ducktape clean` removes what was left)."
  },
  { name: "fail-bad-cluster-utilization", type: "boolean", description: "Fail tests that used fewer nodes than they declared." },
  { name: "debug", type: "boolean", description: "Echo every test's debug log to the terminal, and show library stack frames in failures." },
  {
    name: "config-file",
    type: "text",
    value: "FILE",
    description: "A file of default flags, read after ./.ducktape/config; the command line wins over both.",
    default: "~/.ducktape/config"
  }
]

const dockerName: Flag = { name: "name", type: "text", value: "NAME", description: "The docker cluster's name (1-10 lowercase letters/digits).", default: "dtdocker" }
const dockerDir: Flag = { name: "dir", type: "text", value: "DIR", description: "Where the docker cluster keeps its state, key and cluster.json.", default: ".ducktape/docker" }
const dockerEndpoint: Flag = {
  name: "endpoint",
  type: "text",
  value: "ENGINE",
  repeatable: true,
  description: "A Docker engine to put nodes on (repeatable): unix:///path, tcp://HOST:PORT, ssh://USER@HOST or context:NAME. Default: DOCKER_HOST or the CLI's context."
}

const labName: Flag = { name: "name", type: "text", value: "NAME", description: "The lab's name (1-8 lowercase letters/digits).", default: "dtlab" }
const labDir: Flag = { name: "dir", type: "text", value: "DIR", description: "Where the lab keeps its state, keys and cluster.json.", default: ".ducktape/lab" }

/** Every command, for --help and for checking flags. */
export const commands: ReadonlyArray<CommandHelp> = [
  {
    path: [],
    summary: "Run system tests of distributed software on a cluster.",
    args: "[PATH…]   test files (*.ducktape.ts), directories, globs, symbols (file::Suite.test@{\"k\":1}) or suite files " +
      "(.yml); default: the current directory",
    flags: runFlags,
    subcommands: ["examples", "lab", "docker", "clean", "report", "check"],
    examples: [
      "ducktape tests/                                  run every *.ducktape.ts under tests/ on localhost:8",
      "ducktape tests/kafka.ducktape.ts::Kafka.produce  run one test",
      "ducktape --cluster-file cluster.json --max-parallel 2 tests/",
      "ducktape --collect-only tests/                   list what would run",
      "ducktape --subsets 4 --subset 0 tests/           the first of four CI shards"
    ]
  },
  {
    path: ["examples"],
    summary: "Run the bundled example suite (takes every flag of `ducktape`).",
    flags: runFlags,
    examples: ["ducktape examples --collect-only", "ducktape examples --max-parallel 2"]
  },
  {
    path: ["lab"],
    summary: "A multi-host lab on this machine, made of network namespaces.",
    flags: [],
    subcommands: ["up", "down"],
    examples: ["ducktape lab up --nodes 3", "ducktape lab down"]
  },
  {
    path: ["lab", "up"],
    summary: "Create N hosts as network namespaces, each with its own address, hostname, workdir and sshd (needs root).",
    flags: [{ name: "nodes", type: "integer", value: "N", min: 1, description: "How many hosts.", default: "3" }, labName, labDir],
    examples: ["ducktape lab up --nodes 3", "ducktape lab up --nodes 5 --name big --dir /tmp/biglab"]
  },
  {
    path: ["lab", "down"],
    summary: "Remove everything a lab made (also after a crash).",
    flags: [labName, labDir],
    examples: ["ducktape lab down", "ducktape lab down --name big --dir /tmp/biglab"]
  },
  {
    path: ["docker"],
    summary: "Docker containers as cluster nodes that stay up between runs.",
    flags: [],
    subcommands: ["up", "down"],
    examples: ["ducktape docker up --nodes 3", "ducktape docker down"]
  },
  {
    path: ["docker", "up"],
    summary: "Start N Docker containers as nodes (each with its own hostname, address and sshd) and write a cluster file.",
    flags: [
      { name: "nodes", type: "text", value: "N[,TYPE=N]", description: "The nodes: N, or N,TYPE=N (e.g. 2,large=1).", default: "3" },
      dockerName,
      dockerDir,
      dockerEndpoint,
      { name: "image", type: "text", value: "IMAGE", description: "An image with /bin/sh and sshd. Default: one built from Debian packages." },
      { name: "package", type: "text", value: "PKG", repeatable: true, description: "A Debian package to bake into the nodes' image (repeatable)." }
    ],
    examples: ["ducktape docker up --nodes 3", "ducktape docker up --nodes 2,large=1 --package zookeeper"]
  },
  {
    path: ["docker", "down"],
    summary: "Remove a docker cluster `docker up` made.",
    flags: [{ name: "name", type: "text", value: "NAME", description: "The docker cluster's name, when its --dir is gone." }, dockerDir, dockerEndpoint],
    examples: ["ducktape docker down", "ducktape docker down --dir /tmp/dk"]
  },
  {
    path: ["clean"],
    summary: "Find and remove what crashed sessions left on the nodes: processes, iptables rules, bandwidth limits, scratch directories.",
    flags: [...clusterFlags.map((f) => (f.name === "cluster" ? { ...f, default: "localhost (this machine)" } : f)), {
      name: "dry-run",
      type: "boolean",
      description: "Only list what would be removed."
    }],
    examples: ["ducktape clean --dry-run", "ducktape clean --cluster-file .ducktape/lab/cluster.json"]
  },
  {
    path: ["check"],
    summary: "Check a history file for linearizability against a model: exit 0 linearizable, 1 not (with a counterexample), " +
      "2 bad input, 3 unknown (a limit was hit).",
    args: "FILE   a history: Jepsen's history.edn, Jepsen's log lines, or JSON Lines (.jsonl)",
    flags: [
      { name: "model", type: "text", value: "NAME", description: "The model: register, cas-register, kv, set, queue or counter." },
      { name: "time-limit", type: "text", value: "DURATION", description: "Give up (exit 3) after this long, e.g. 30s or \"2 minutes\".", default: "60s" }
    ],
    examples: [
      "ducktape check store/latest/history.edn --model cas-register",
      "ducktape check results/latest/MySuite/test/histories/kv.jsonl --model kv --time-limit 2m"
    ]
  },
  {
    path: ["report"],
    summary: "Work with reports.",
    flags: [],
    subcommands: ["merge"],
    examples: ["ducktape report merge results/shard-*/latest --out results/merged"]
  },
  {
    path: ["report", "merge"],
    summary: "Merge the report.json files of several shards into one set of reports.",
    args: "REPORT…   report.json files (or session directories) of the shards",
    flags: [{ name: "out", type: "text", value: "DIR", description: "Directory to write the merged reports into.", default: "results/merged" }],
    examples: ["ducktape report merge shard0/report.json shard1/report.json --out results/merged"]
  }
]

/** Flags every command takes. */
const builtIn: ReadonlyArray<Flag> = [
  { name: "help", type: "boolean", description: "Show this help." },
  { name: "version", type: "boolean", description: "Show the version." }
]

/** Whether to color text written to a stream: NO_COLOR and FORCE_COLOR (https://no-color.org) win, then "is it a terminal". */
export const useColor = (stream: { readonly isTTY?: boolean }, env: Readonly<Record<string, string | undefined>> = process.env): boolean => {
  const force = env["FORCE_COLOR"]
  if (force !== undefined && force !== "") return force !== "0" && force !== "false"
  if (env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== "") return false
  return stream.isTTY === true
}

/** The command a command line names (its leading words), and the rest of it. */
export const commandOf = (args: ReadonlyArray<string>): { readonly command: CommandHelp; readonly rest: ReadonlyArray<string> } => {
  let command = commands[0]!
  let i = 0
  for (; i < args.length; i++) {
    const path = [...command.path, args[i]].join(" ")
    const next = commands.find((c) => c.path.join(" ") === path)
    if (next === undefined) break
    command = next
  }
  return { command, rest: args.slice(i) }
}

/** `ducktape … --help` as text, colored or not. */
export const helpText = (command: CommandHelp, version: string, color: boolean): string => {
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s)
  const name = ["ducktape", ...command.path].join(" ")
  const wrap = (text: string, indent: number) => {
    const width = Math.max(60, Math.min(110, (process.stdout.columns ?? 100) - 2)) - indent
    const lines: Array<string> = []
    let line = ""
    for (const word of text.split(" ")) {
      if (line !== "" && line.length + 1 + word.length > width) {
        lines.push(line)
        line = word
      } else line = line === "" ? word : `${line} ${word}`
    }
    lines.push(line)
    return lines.map((l) => " ".repeat(indent) + l).join("\n")
  }
  const out: Array<string> = [`${bold(name)} ${version}`, "", command.summary, ""]
  const usage = [name]
  if (command.subcommands !== undefined) usage.push(command.path.length === 0 ? "[COMMAND]" : "COMMAND")
  if (command.flags.length > 0) usage.push("[FLAGS]")
  if (command.args !== undefined) usage.push(command.args.split(" ")[0]!)
  out.push(bold("USAGE"), `  ${usage.join(" ")}`, "")
  if (command.args !== undefined) out.push(bold("ARGUMENTS"), wrap(command.args.replace(/ {2,}/, ": "), 2), "")
  if (command.subcommands !== undefined) {
    out.push(bold("COMMANDS"))
    for (const sub of command.subcommands) {
      const c = commands.find((c) => c.path.join(" ") === [...command.path, sub].join(" "))!
      out.push(`  ${sub.padEnd(10)} ${c.summary}`)
    }
    out.push(`  (ducktape ${[...command.path, "COMMAND"].join(" ")} --help for its flags)`, "")
  }
  out.push(bold("FLAGS"))
  for (const f of [...command.flags, ...builtIn]) {
    out.push(`  ${bold(`--${f.name}`)}${f.value === undefined ? "" : ` ${f.value}`}${f.repeatable === true ? " …" : ""}`)
    out.push(wrap(f.description + (f.default === undefined ? "" : ` (default: ${f.default})`), 6))
  }
  out.push("", bold("EXAMPLES"), ...command.examples.map((e) => `  ${e}`), "")
  return out.join("\n")
}

/** The known flag closest to an unknown one, if one is close. */
export const didYouMean = (flag: string, known: ReadonlyArray<Flag>): string | undefined => {
  const given = flag.replace(/^-+/, "").split("=")[0]!
  const near = nearest(given, [...known, ...builtIn].map((f) => f.name), { maxDistance: (g) => Math.max(2, Math.floor(g.length / 4)) })
  return near === undefined ? undefined : `--${near}`
}

/** A problem with a command line's flags: what is wrong and how to fix it. */
export interface FlagProblem {
  readonly problem: string
  readonly fix: string
}

/**
 * Checks a command line's flags before it is parsed: unknown flags (with a did-you-mean), integer flags whose value
 * is missing, not a whole number, or below the flag's minimum.
 */
export const checkFlags = (command: CommandHelp, args: ReadonlyArray<string>): FlagProblem | undefined => {
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!
    if (token === "--") break
    if (!token.startsWith("--")) continue
    const eq = token.indexOf("=")
    const name = token.slice(2, eq > 0 ? eq : undefined)
    const flag = command.flags.find((f) => f.name === name) ?? builtIn.find((f) => f.name === name)
    if (flag === undefined) {
      const near = didYouMean(token, command.flags)
      return {
        problem: `unknown flag --${name}${near === undefined ? "" : ` (did you mean ${near}?)`}`,
        fix: near === undefined ? `see \`${["ducktape", ...command.path].join(" ")} --help\` for the flags` : `write ${near}`
      }
    }
    if (flag.type === "boolean") continue
    const value = eq > 0 ? token.slice(eq + 1) : args[i + 1]
    if (eq <= 0) i++
    if (value === undefined || (eq <= 0 && value.startsWith("--"))) {
      return { problem: `--${name} needs a value`, fix: `pass --${name} ${flag.value ?? "VALUE"}` }
    }
    if (flag.type !== "integer") continue
    const atLeast = flag.min ?? 0
    if (!/^[-+]?\d+$/.test(value.trim())) {
      return { problem: `--${name} ${JSON.stringify(value)} is not a whole number`, fix: `pass --${name} ${atLeast} or more, e.g. --${name} ${flag.default ?? Math.max(1, atLeast)}` }
    }
    if (Number(value) < atLeast && flag.belowMin !== undefined) {
      return { problem: `--${name} ${value} ${flag.belowMin}`, fix: `pass --${name} ${atLeast} or more, or leave it out` }
    }
    if (Number(value) < atLeast) {
      return { problem: `--${name} ${value} is less than ${atLeast}`, fix: `pass --${name} ${atLeast} or more${flag.default === undefined ? "" : ` (default ${flag.default})`}` }
    }
  }
  return undefined
}
