/**
 * The chaos driver behind bench/chaos.ts (and test/Chaos.test.ts): proves that nothing leaks when tests fail, time
 * out, are interrupted with Ctrl-C, or their driver is killed outright.
 *
 * `drive` brings up a 3-node lab once, then runs the chaos suite (chaos.ducktape.ts) N times through the CLI as a
 * child process, seed S+k for run k. Runs end normally, with SIGINT (Ctrl-C) or with SIGKILL, as `endings` says
 * (cycled); every other signal of each kind lands at a random moment, the others while a fault is applied. After a
 * SIGKILL, `ducktape clean` or the next run's start-up clean (two kills each in turn, and `ducktape clean` after a
 * kill in the last run) must remove what the killed driver left. After every run
 * it counts, on every lab node and on this machine: processes labelled with a finished session, `ducktape:`
 * iptables rules, qdiscs, the localhost cluster's scratch directories of our ended drivers, files in the nodes'
 * workdirs, and any process in a node's namespace besides its sshd; and it checks every collected ticker log for
 * completeness (runs not SIGKILLed). The result carries every figure and a Markdown summary.
 */
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { Effect, Schedule } from "effect"
import * as Lab from "../../src/Lab.js"
import { checkLog, hash, makePlan, type Plan } from "./plan.js"

const repo = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "../..")
const suiteFile = "bench/chaos/chaos.ducktape.ts"
/** The suite's module name in test ids (the runner names modules by their path from the working directory). */
const suiteModule = "bench.chaos.chaos"
/** The suite's tests: the letter orders them, the digit is how many nodes each takes. */
export const allTests: ReadonlyArray<string> = ["a3", "b2", "c2", "d1", "e1"]

// ---------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------

/** How a run is made to end. */
export type Ending = "normal" | "sigint" | "sigkill"

/** What to run. */
export interface Options {
  readonly runs: number
  /** Run k uses seed `seed + k` (its tests' plans and the moment of its signal). */
  readonly seed: number
  /** Which of `allTests` each run runs. */
  readonly tests: ReadonlyArray<string>
  /** The runs' --test-timeout: what a `timeout` outcome runs past. */
  readonly testTimeout: string
  /** How runs end, cycled over the runs. */
  readonly endings: ReadonlyArray<Ending>
  /** Keep the lab's directory and the results (the lab itself is always taken down). */
  readonly keep: boolean
  /** Progress lines go here (one per run). */
  readonly log: (line: string) => void
}

/** Each SIGKILL is followed by a normal run, which shows the start-up clean at work and clears the workdirs. */
export const defaultEndings: ReadonlyArray<Ending> = ["normal", "sigint", "sigkill", "normal"]

/** A seeded number in [0, 1) for run `seed`'s `what`. */
const draw = (seed: number, what: string) => hash(`${what}/${seed}`) / 2 ** 32

/**
 * When to send a signal: some time after the session started (a seeded fraction of the shortest normal session so
 * far, 6 s before there was one, so that it lands while tests run whatever the machine's speed), or, aimed, when
 * the `nth` fault of the given kinds has been applied (the tests' logs say so).
 */
type Moment = { readonly delayMs: number } | { readonly kinds: RegExp; readonly nth: number }

// ---------------------------------------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------------------------------------

interface Ran {
  readonly pid: number
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
  /** The signal the driver sent, and when (ms after start), if it did before the run ended. */
  readonly sent: { readonly signal: string; readonly atMs: number } | undefined
  /** A run that did not end within its bound (or not within 90 s of SIGINT) and was killed. */
  readonly hung: boolean
  /** When the session started (ms after the process did): start-up, discovery, connecting and the start-up clean. */
  readonly sessionAtMs: number | undefined
}

/** How long a whole run may take before it counts as hung. */
const runLimitMs = 10 * 60_000
/** How long a run may take to tear down after SIGINT. */
const interruptLimitMs = 90_000

/** The number of faults of these kinds applied so far in a session, from its tests' debug logs. */
const faultsApplied = (sessionDir: string, kinds: RegExp) => {
  let n = 0
  for (const d of NodeFs.existsSync(sessionDir) ? NodeFs.readdirSync(sessionDir) : []) {
    const log = readText(NodePath.join(sessionDir, d, "test_log.debug")) ?? ""
    n += [...log.matchAll(/\] \{[^}]*fault=[^}]*\} applied (\S+)/g)].filter((m) => kinds.test(m[1]!)).length
  }
  return n
}

/** What an aimed signal waits for: any fault, any network fault, or a bandwidth limit. */
export type Aim = "any" | "network" | "bandwidth"

const aimKinds: Record<Aim, RegExp> = {
  any: /./,
  network: /^(partition|isolate|packet-loss|bandwidth)$/,
  bandwidth: /^bandwidth$/
}

/** How often an aimed signal looks for a newly applied fault. */
const aimPollMs = 40

/** Runs the CLI in a child process; `ending` says whether and how to stop it, and `moment` when. */
const ducktape = (args: ReadonlyArray<string>, ending: Ending, moment: Moment = { delayMs: 0 }) =>
  Effect.async<Ran>((resume) => {
    const started = Date.now()
    const child = ChildProcess.spawn(process.execPath, ["bin/ducktape.js", ...args], {
      cwd: repo,
      env: { ...process.env, DUCKTAPE_LAB: undefined },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let sent: Ran["sent"]
    let hung = false
    const timers: Array<NodeJS.Timeout> = []
    const later = (ms: number, f: () => void) => timers.push(setTimeout(f, ms))
    const send = (signal: NodeJS.Signals) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      sent ??= { signal, atMs: Date.now() - started }
      child.kill(signal)
    }
    const stop = () => {
      send(ending === "sigint" ? "SIGINT" : "SIGKILL")
      if (ending === "sigint") {
        later(interruptLimitMs, () => {
          hung = true
          send("SIGKILL")
        })
      }
    }
    /** Stops the run once `nth` faults of the kinds have been applied (bounded by the run itself). */
    const stopAtFault = (sessionDir: string, kinds: RegExp, nth: number) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      if (faultsApplied(sessionDir, kinds) >= nth) stop()
      else later(aimPollMs, () => stopAtFault(sessionDir, kinds, nth))
    }
    let sessionAtMs: number | undefined
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      if (sessionAtMs === undefined && /^session .*: running/m.test(stdout)) {
        sessionAtMs = Date.now() - started
        if (ending === "normal") return
        const sessionDir = /results in (\S+)/.exec(stdout)?.[1]
        if ("delayMs" in moment) later(moment.delayMs, stop)
        else if (sessionDir !== undefined) stopAtFault(sessionDir, moment.kinds, moment.nth)
      }
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    later(runLimitMs, () => {
      hung = true
      child.kill("SIGKILL")
    })
    child.on("close", (code, signal) => {
      for (const t of timers) clearTimeout(t)
      resume(Effect.succeed({ pid: child.pid ?? -1, code, signal, stdout, stderr, ms: Date.now() - started, sent, hung, sessionAtMs }))
    })
    return Effect.sync(() => {
      for (const t of timers) clearTimeout(t)
      child.kill("SIGKILL")
    })
  })

// ---------------------------------------------------------------------------------------------------------
// Looking for leftovers
// ---------------------------------------------------------------------------------------------------------

/** What was found left on the lab and the machine. */
export interface Leftovers {
  /** Processes labelled DUCKTAPE_SESSION=…/<host>/<pid> where <pid> is a driver of ours that has ended. */
  readonly processes: ReadonlyArray<string>
  readonly iptablesRules: ReadonlyArray<string>
  /** Any root qdisc on a node that is not the default (a bandwidth fault's htb `dd7a:`). */
  readonly qdiscs: ReadonlyArray<string>
  /** `ducktape-localhost-<pid>-…` in the temp dir, <pid> a driver of ours that has ended. */
  readonly scratchDirs: ReadonlyArray<string>
  readonly workdirFiles: ReadonlyArray<string>
  /** Any process in a node's network namespace other than its sshd listener (labelled or not). */
  readonly nodeProcesses: ReadonlyArray<string>
  /** How many of all these the first look found, before giving them 5 s to go. */
  readonly atExit?: number
}

const sh = (argv: ReadonlyArray<string>) =>
  Effect.async<string>((resume) => {
    const [file, ...args] = argv
    const child = ChildProcess.execFile(file!, args, { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (_, stdout) =>
      resume(Effect.succeed(stdout)))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const readText = (path: string) => {
  try {
    return NodeFs.readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

const cmdline = (pid: number | string) => (readText(`/proc/${pid}/cmdline`) ?? "").replace(/\0/g, " ").trim().slice(0, 120)

/** Every labelled process on this machine (the lab's nodes share its process table). */
const labelledProcesses = () => {
  const found: Array<{ pid: number; label: string }> = []
  for (const entry of NodeFs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const env = readText(`/proc/${entry}/environ`)
    const label = env?.split("\0").find((v) => v.startsWith("DUCKTAPE_SESSION="))
    if (label !== undefined) found.push({ pid: Number(entry), label: label.slice("DUCKTAPE_SESSION=".length) })
  }
  return found
}

/** The driver pid a label names, if the label was written on this machine. */
const driverOf = (label: string) => {
  const [, host, pid] = label.split("/")
  return host === NodeOs.hostname() && pid !== undefined && /^\d+$/.test(pid) ? Number(pid) : undefined
}

const filesUnder = (dir: string): Array<string> => {
  const out: Array<string> = []
  const walk = (d: string) => {
    let entries: Array<NodeFs.Dirent>
    try {
      entries = NodeFs.readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = NodePath.join(d, e.name)
      out.push(NodePath.relative(dir, p))
      if (e.isDirectory()) walk(p)
    }
  }
  walk(dir)
  return out
}

const scanOnce = (lab: Lab.Lab, ended: ReadonlySet<number>) =>
  Effect.gen(function*() {
    const processes = labelledProcesses()
      .filter((p) => ended.has(driverOf(p.label) ?? -1))
      .map((p) => `pid ${p.pid} (${p.label}): ${cmdline(p.pid)}`)
    const perNode = yield* Effect.forEach(lab.nodes, (node) =>
      Effect.gen(function*() {
        const rules = (yield* sh(["ip", "netns", "exec", node.netns, "iptables-save"])).split("\n").filter((l) => l.includes("ducktape:"))
        const qdiscs = (yield* sh(["ip", "netns", "exec", node.netns, "tc", "qdisc", "show"])).split("\n")
          .filter((l) => l.trim() !== "" && !/^qdisc noqueue 0: dev \S+ root/.test(l))
        const sshd = Number((readText(node.pidFile) ?? "").trim())
        const pids = (yield* sh(["ip", "netns", "pids", node.netns])).split("\n").filter((l) => /^\d+$/.test(l)).map(Number)
        const others = pids.filter((p) => p !== sshd && cmdline(p) !== "").map((p) => `${node.name}: pid ${p}: ${cmdline(p)}`)
        return {
          rules: rules.map((r) => `${node.name}: ${r}`),
          qdiscs: qdiscs.map((q) => `${node.name}: ${q.trim()}`),
          files: filesUnder(node.hostWorkdir).map((f) => `${node.name}: ${f}`),
          others
        }
      }), { concurrency: "unbounded" })
    const scratchDirs = NodeFs.readdirSync(NodeOs.tmpdir())
      .filter((n) => ended.has(Number(/^ducktape-localhost-(\d+)-/.exec(n)?.[1] ?? -1)))
    return {
      processes,
      iptablesRules: perNode.flatMap((n) => n.rules),
      qdiscs: perNode.flatMap((n) => n.qdiscs),
      scratchDirs,
      workdirFiles: perNode.flatMap((n) => n.files),
      nodeProcesses: perNode.flatMap((n) => n.others)
    } satisfies Leftovers
  })

const total = (l: Leftovers) =>
  l.processes.length + l.iptablesRules.length + l.qdiscs.length + l.scratchDirs.length + l.workdirFiles.length + l.nodeProcesses.length

/** Gives processes a moment to go: an sshd session ends a little after its client's connection closes. */
const settle = Schedule.spaced("250 millis").pipe(Schedule.upTo("5 seconds"))

/**
 * What is left after a run, given up to 5 s to go by itself (`settle`); `atExit` is what the first look found
 * (e.g. an sshd session process a moment before it ends).
 */
const scan = (lab: Lab.Lab, ended: ReadonlySet<number>) =>
  Effect.gen(function*() {
    const first = yield* scanOnce(lab, ended)
    const settled = total(first) === 0 ? first : yield* scanOnce(lab, ended).pipe(
      Effect.filterOrFail((l) => total(l) === 0, (l) => l),
      Effect.retry(settle),
      Effect.merge
    )
    return { ...settled, atExit: total(first) }
  })

// ---------------------------------------------------------------------------------------------------------
// What a run's results say
// ---------------------------------------------------------------------------------------------------------

/** A test that started in a run: its plan and its result, if one was recorded. */
export interface TestSeen {
  readonly testId: string
  readonly plan: Plan | undefined
  readonly status: string | undefined
  readonly failureTag: string | undefined
  readonly summary: string | undefined
  readonly faults: ReadonlyArray<string>
  /** Heals that failed, as the test's log says (`could not heal …`). */
  readonly healFailures: ReadonlyArray<string>
}

/** The collected ticker logs of a run. */
export interface LogCheck {
  readonly checked: number
  readonly incomplete: ReadonlyArray<string>
  /** Nodes whose ticker never started (interrupted before its start), so no log was expected. */
  readonly notStarted: number
}

interface ResultRecord {
  readonly testId: string
  readonly status: string
  readonly summary: string
  readonly resultsDir: string
  readonly failure?: { readonly tag: string }
  readonly faults: ReadonlyArray<{ readonly kind: string }>
  readonly services: ReadonlyArray<{ readonly id: string; readonly nodes: ReadonlyArray<string>; readonly notes: ReadonlyArray<string> }>
}

const readResults = (sessionDir: string): ReadonlyArray<ResultRecord> => {
  const report = readText(NodePath.join(sessionDir, "report.json"))
  if (report !== undefined) return (JSON.parse(report) as { results: Array<ResultRecord> }).results
  // A killed driver wrote no report; results.jsonl has the tests that finished before.
  return (readText(NodePath.join(sessionDir, "results.jsonl")) ?? "").split("\n").filter((l) => l.trim() !== "")
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as ResultRecord]
      } catch {
        return []
      }
    })
}

/** Every test that started (it wrote plan.json), with its result if one was recorded. */
const testsOf = (sessionDir: string): ReadonlyArray<TestSeen> => {
  const results = readResults(sessionDir)
  const dirs = NodeFs.existsSync(sessionDir)
    ? NodeFs.readdirSync(sessionDir).filter((d) => NodeFs.existsSync(NodePath.join(sessionDir, d, "plan.json")))
    : []
  return dirs.map((d) => {
    const plan = JSON.parse(readText(NodePath.join(sessionDir, d, "plan.json"))!) as Plan
    const r = results.find((x) => x.resultsDir === d)
    return {
      testId: r?.testId ?? d,
      plan,
      status: r?.status,
      failureTag: r?.failure?.tag,
      summary: r?.summary,
      faults: r?.faults.map((f) => f.kind) ?? [],
      healFailures: (readText(NodePath.join(sessionDir, d, "test_log.debug")) ?? "").split("\n")
        .filter((l) => l.includes("could not heal"))
        .map((l) => l.replace(/^.*?\} /, ""))
    }
  })
}

/** Checks the collected log of every node of every service of every recorded test. */
const checkLogs = (sessionDir: string): LogCheck => {
  let checked = 0
  let notStarted = 0
  const incomplete: Array<string> = []
  for (const r of readResults(sessionDir)) {
    for (const s of r.services) {
      for (const node of s.nodes) {
        const file = NodePath.join(sessionDir, r.resultsDir, s.id, node, "ticks.log")
        const text = readText(file)
        if (text === undefined) {
          // A node whose start never ran has nothing to collect; the service notes a log it looked for.
          if (s.notes.some((n) => n.includes(` from ${node}:`)) || r.status === "PASS") incomplete.push(`${r.testId} ${s.id}/${node}: log not collected`)
          else notStarted++
          continue
        }
        checked++
        const why = checkLog(text)
        if (why !== undefined) incomplete.push(`${r.testId} ${s.id}/${node}: ${why}`)
      }
    }
  }
  // A started test missing from the report of a run that was not killed is a result lost.
  for (const t of testsOf(sessionDir)) {
    if (t.status === undefined) incomplete.push(`${t.testId}: started but missing from the report`)
  }
  return { checked, incomplete, notStarted }
}

// ---------------------------------------------------------------------------------------------------------
// The runs
// ---------------------------------------------------------------------------------------------------------

/** What the clean after a SIGKILL reported, and what was left after it. */
export interface CleanReport {
  readonly how: "ducktape clean" | "next run's start-up clean"
  /** Leftovers of our killed driver that the clean reported removing, by kind. */
  readonly removed: Record<string, number>
  /** Leftovers of other (dead) sessions on this machine it also removed. */
  readonly foreign: number
  readonly after: Leftovers
}

/** One run and what was found after it. */
export interface RunRecord {
  readonly k: number
  readonly seed: number
  readonly ending: Ending
  /** The signal was aimed at a moment when a fault (of this kind) was applied. */
  readonly aimed: boolean
  readonly aim: Aim | undefined
  readonly pid: number
  readonly exit: string
  readonly seconds: number
  readonly sessionAtSeconds: number | undefined
  readonly sent: Ran["sent"]
  readonly hung: boolean
  readonly sessionDir: string | undefined
  readonly tests: ReadonlyArray<TestSeen>
  readonly leftovers: Leftovers
  readonly logs: LogCheck | undefined
  clean?: CleanReport
  readonly problems: Array<string>
}

/** `removed N leftovers` lines: `<node>: <kind> <what> (session <label>)`, counted by kind for our driver. */
const parseCleanOutput = (text: string, driver: number) => {
  const removed: Record<string, number> = {}
  let foreign = 0
  for (const line of text.split("\n")) {
    const m = /^\S+: (process|iptables-rule|qdisc|directory) .*\(session (.*)\)$/.exec(line)
    if (m === null) continue
    if (driverOf(m[2]!) === driver || m[2] === `pid ${driver}`) removed[m[1]!] = (removed[m[1]!] ?? 0) + 1
    else foreign++
  }
  return { removed, foreign }
}

const run = (lab: Lab.Lab, options: Options, resultsRoot: string, k: number, ended: Set<number>, history: ReadonlyArray<RunRecord>) =>
  Effect.gen(function*() {
    const seed = options.seed + k
    const ending = options.endings[k % options.endings.length]!
    // Every other signal of each kind is aimed at a moment when a fault is applied — for SIGINT any fault; for
    // SIGKILL in turn a bandwidth limit and any network fault — at the nth such fault the tests' plans reach (n
    // drawn from the seed). An aim no test of the run will reach falls back to a broader one.
    const sameEnding = history.filter((r) => r.ending === ending).length
    const wanted: Aim | undefined = ending === "normal" || sameEnding % 2 === 1
      ? undefined
      : ending === "sigint" ? "any" : sameEnding % 4 === 0 ? "bandwidth" : "network"
    const reached = options.tests.flatMap((t) => {
      const plan = makePlan(seed, `${suiteModule}.Chaos.${t}`, Number(t.slice(1)))
      const last = plan.outcome.kind === "pass" ? plan.steps.length : plan.outcome.at + 1
      return plan.steps.slice(0, last).map((step) => (step.kind === "during" ? step.fault : step.kind))
        .filter((kind) => kind !== "kill-restart" && kind !== "bounce")
    })
    const reaches = (a: Aim) => reached.filter((kind) => aimKinds[a].test(kind)).length
    const aim: Aim | undefined = wanted === undefined
      ? undefined
      : ([wanted, "network", "any"] as const).slice(wanted === "any" ? 2 : wanted === "network" ? 1 : 0).find((a) => reaches(a) > 0)
    const aimed = aim !== undefined
    const normalSessions = history.filter((r) => r.sent === undefined && r.sessionAtSeconds !== undefined)
      .map((r) => (r.seconds - r.sessionAtSeconds!) * 1000)
    const typical = normalSessions.length === 0 ? 6000 : Math.min(...normalSessions)
    const moment: Moment = aim !== undefined
      ? { kinds: aimKinds[aim], nth: 1 + Math.floor(draw(seed, "nth") * reaches(aim)) }
      : { delayMs: Math.round(300 + draw(seed, "delay") * 0.7 * typical) }
    const targets = options.tests.map((t) => `${suiteFile}::Chaos.${t}`)
    const ran = yield* ducktape([
      "--cluster-file",
      lab.clusterFile,
      ...targets,
      "--globals",
      JSON.stringify({ seed }),
      "--max-parallel",
      "3",
      "--test-timeout",
      options.testTimeout,
      "--results-root",
      resultsRoot
    ], ending, moment)
    ended.add(ran.pid)
    const sessionDir = /results in (\S+)/.exec(ran.stdout)?.[1]
    const problems: Array<string> = []
    const killed = ran.sent?.signal === "SIGKILL"
    if (ran.hung) problems.push(`run hung and was killed (${ran.sent?.signal ?? "no signal sent"})`)
    if (!killed && ran.code === 2) problems.push(`ducktape exited 2: ${ran.stderr.trim().split("\n").slice(-3).join(" | ")}`)
    if (ran.sent?.signal === "SIGINT" && ran.code !== 130 && !ran.hung) problems.push(`exit ${ran.code} after SIGINT, expected 130`)

    // The previous run was killed and left its leftovers to this run's start-up clean: it must report them.
    const previous = history[history.length - 1]
    if (previous !== undefined && previous.sent?.signal === "SIGKILL" && previous.clean === undefined) {
      const reported = parseCleanOutput(ran.stdout, previous.pid)
      previous.clean = { how: "next run's start-up clean", ...reported, after: yield* scan(lab, new Set([previous.pid])) }
    }

    const leftovers = yield* scan(lab, ended)
    const tests = sessionDir === undefined ? [] : testsOf(sessionDir)
    const logs = killed || sessionDir === undefined ? undefined : checkLogs(sessionDir)
    const record: RunRecord = {
      k,
      seed,
      ending,
      aimed,
      aim,
      pid: ran.pid,
      exit: ran.signal !== null ? ran.signal : String(ran.code),
      seconds: ran.ms / 1000,
      sessionAtSeconds: ran.sessionAtMs === undefined ? undefined : ran.sessionAtMs / 1000,
      sent: ran.sent,
      hung: ran.hung,
      sessionDir,
      tests,
      leftovers,
      logs,
      problems
    }
    // Kills 1, 2, 5, 6, … (and a kill in the last run) are cleaned with `ducktape clean`, the others by the next
    // run's start-up clean: aimed and random kills each meet both.
    const kills = history.filter((r) => r.sent?.signal === "SIGKILL").length
    if (killed && (Math.floor(kills / 2) % 2 === 0 || k === options.runs - 1)) {
      const cleaned = yield* ducktape(["clean", "--cluster-file", lab.clusterFile], "normal")
      if (cleaned.code !== 0) problems.push(`ducktape clean exited ${cleaned.code}: ${cleaned.stderr.trim()}`)
      record.clean = { how: "ducktape clean", ...parseCleanOutput(cleaned.stdout, ran.pid), after: yield* scan(lab, ended) }
    }
    const l = leftovers
    options.log(
      `run ${k + 1}/${options.runs} seed ${seed} ${ending}${ran.sent === undefined ? "" : ` (${ran.sent.signal} at ${(ran.sent.atMs / 1000).toFixed(1)}s${aim === undefined ? "" : `, aimed at an applied ${aim === "any" ? "" : `${aim} `}fault`})`}: ` +
        `exit ${record.exit} in ${record.seconds.toFixed(1)}s (session at ${record.sessionAtSeconds?.toFixed(1) ?? "-"}s), ${tests.length} tests [${tests.map((t) => t.status ?? "-").join(" ")}]; ` +
        `left: ${l.processes.length} proc, ${l.iptablesRules.length} rules, ${l.qdiscs.length} qdiscs, ${l.scratchDirs.length} scratch, ` +
        `${l.workdirFiles.length} files, ${l.nodeProcesses.length} node procs` +
        (logs === undefined ? "" : `; logs ${logs.checked} checked, ${logs.incomplete.length} incomplete`) +
        (record.clean === undefined ? "" : `; clean removed ${JSON.stringify(record.clean.removed)}, then ${total(record.clean.after)} left`) +
        (problems.length > 0 ? `; PROBLEMS: ${problems.join("; ")}` : "")
    )
    return record
  })

// ---------------------------------------------------------------------------------------------------------
// The summary
// ---------------------------------------------------------------------------------------------------------

const leftoverKinds = ["processes", "iptablesRules", "qdiscs", "scratchDirs", "workdirFiles", "nodeProcesses"] as const

interface Verdict {
  readonly ok: boolean
  readonly failures: ReadonlyArray<string>
}

/**
 * Normal and Ctrl-C endings must leave nothing. A SIGKILL leaves things by nature: the clean that follows must
 * remove every labelled process and rule (workdir files are the services' own, removed by their next pre-start
 * cleanNode, so they must be gone after the next run).
 */
/** Tests whose recorded result is not the one their plan leads to (an interrupted run's RunInterrupted aside). */
const unplanned = (tests: ReadonlyArray<TestSeen>) =>
  tests.filter((t) => {
    if (t.status === undefined || t.plan === undefined) return false
    const want = t.plan.outcome.kind === "pass" ? "PASS" : t.plan.outcome.kind === "fail" ? "AssertionFailed" : "TestTimeout"
    const got = t.status === "PASS" ? "PASS" : t.failureTag
    return got !== want && got !== "RunInterrupted"
  })

const verdict = (runs: ReadonlyArray<RunRecord>): Verdict => {
  const failures: Array<string> = []
  for (const [i, r] of runs.entries()) {
    const name = `run ${r.k + 1} (${r.ending}${r.sent === undefined ? "" : `, ${r.sent.signal}`})`
    failures.push(...r.problems.map((p) => `${name}: ${p}`))
    // A result other than the planned one is the framework's doing unless it is the run's timeout or interruption.
    for (const t of unplanned(r.tests).filter((t) => t.failureTag !== "TestTimeout")) {
      failures.push(`${name}: ${t.testId} planned ${t.plan?.outcome.kind}, got ${t.status} ${t.failureTag ?? ""}: ${t.summary?.split("\n")[0]}`)
    }
    if (r.sent?.signal !== "SIGKILL") {
      for (const kind of leftoverKinds) {
        for (const what of r.leftovers[kind]) failures.push(`${name}: left ${kind}: ${what}`)
      }
      for (const why of r.logs?.incomplete ?? []) failures.push(`${name}: incomplete log: ${why}`)
      for (const t of r.tests) for (const why of t.healFailures) failures.push(`${name}: ${t.testId}: ${why}`)
    } else {
      if (r.clean === undefined) failures.push(`${name}: no clean ran after the kill`)
      else {
        for (const kind of leftoverKinds.filter((k) => k !== "workdirFiles")) {
          for (const what of r.clean.after[kind]) failures.push(`${name}: left after ${r.clean.how}: ${kind}: ${what}`)
        }
      }
      const next = runs[i + 1]
      if (next !== undefined && next.sent?.signal !== "SIGKILL") {
        for (const what of next.leftovers.workdirFiles) failures.push(`${name}: workdir file still there after the next run: ${what}`)
      }
    }
  }
  return { ok: failures.length === 0, failures }
}

const count = <A>(xs: ReadonlyArray<A>, key: (a: A) => string) => {
  const m: Record<string, number> = {}
  for (const x of xs) m[key(x)] = (m[key(x)] ?? 0) + 1
  return m
}

const markdown = (runs: ReadonlyArray<RunRecord>, options: Options, v: Verdict, labUpSeconds: number, totalSeconds: number) => {
  const tests = runs.flatMap((r) => r.tests)
  const kinds = count(
    runs.map((r) =>
      r.sent === undefined
        ? r.ending === "normal" ? "normal" : `${r.ending}, but the run ended before the signal`
        : `${r.sent.signal === "SIGINT" ? "SIGINT (Ctrl-C)" : r.sent.signal}, ${r.aim === undefined ? "at a random moment" : `while ${r.aim === "any" ? "a" : r.aim === "network" ? "a network" : "a bandwidth"} fault was applied`}`
    ),
    (x) => x
  )
  const planned = count(tests.flatMap((t) => (t.plan === undefined ? [] : [t.plan.outcome.kind])), (x) => x)
  const statuses = count(tests, (t) => `${t.status ?? "no result (driver killed)"}${t.failureTag === undefined ? "" : ` ${t.failureTag}`}`)
  const stepKinds = count(tests.flatMap((t) => t.plan?.steps.map((s) => (s.kind === "during" ? `during(${s.fault})` : s.kind)) ?? []), (x) => x)
  const faultKinds = count(tests.flatMap((t) => t.faults), (x) => x)
  const different = unplanned(tests)
  const table = (m: Record<string, number>) =>
    Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, n]) => `| ${k} | ${n} |`).join("\n")
  const sum = (rs: ReadonlyArray<RunRecord>, kind: (typeof leftoverKinds)[number], of: (r: RunRecord) => Leftovers | undefined) =>
    rs.reduce((n, r) => n + (of(r)?.[kind].length ?? 0), 0)
  const byEnding = (pred: (r: RunRecord) => boolean) => runs.filter(pred)
  const normal = byEnding((r) => r.sent === undefined)
  const interrupted = byEnding((r) => r.sent?.signal === "SIGINT")
  const killed = byEnding((r) => r.sent?.signal === "SIGKILL")
  const removedTotal = (kind: string) => killed.reduce((n, r) => n + (r.clean?.removed[kind] ?? 0), 0)
  const leftoverRows = leftoverKinds.map((kind) =>
    `| ${kind} | ${sum(normal, kind, (r) => r.leftovers)} | ${sum(interrupted, kind, (r) => r.leftovers)} | ` +
    `${sum(killed, kind, (r) => r.leftovers)} | ${sum(killed, kind, (r) => r.clean?.after)} |`).join("\n")
  const logsChecked = runs.reduce((n, r) => n + (r.logs?.checked ?? 0), 0)
  const incomplete = runs.reduce((n, r) => n + (r.logs?.incomplete.length ?? 0), 0)
  const notStarted = runs.reduce((n, r) => n + (r.logs?.notStarted ?? 0), 0)
  const cpu = NodeOs.cpus()[0]?.model ?? "unknown CPU"
  return `## Chaos run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC

Machine: ${NodeOs.hostname()}, ${NodeOs.cpus().length} × ${cpu}, ${(NodeOs.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${NodeOs.release()}, Node ${process.version}; load average at the end ${NodeOs.loadavg().map((l) => l.toFixed(2)).join(" ")}.
Command: \`npx tsx bench/chaos.ts --runs ${options.runs} --seed ${options.seed} --tests ${options.tests.join(",")} --test-timeout ${options.testTimeout} --endings ${options.endings.join(",")}\`; lab up in ${labUpSeconds.toFixed(1)} s, whole run ${(totalSeconds / 60).toFixed(1)} min.

**Verdict: ${v.ok ? "nothing leaked; every log complete" : `${v.failures.length} problem(s)`}.**
${v.failures.map((f) => `- ${f}`).join("\n")}

### Runs (${runs.length}) by how they ended
| ending | runs |
|---|---|
${table(kinds)}

Ctrl-C runs: exit 130 in ${interrupted.filter((r) => r.exit === "130").length} of ${interrupted.length}; seconds from SIGINT to exit: ${interrupted.map((r) => ((r.seconds * 1000 - (r.sent?.atMs ?? 0)) / 1000).toFixed(1)).join(", ") || "-"}.

### Tests (${tests.length} started)
| planned outcome | tests |
|---|---|
${table(planned)}

| recorded result | tests |
|---|---|
${table(statuses)}

Results that differ from the plan (besides RunInterrupted): ${different.length === 0 ? "none" : different.map((t) => `\`${t.testId}\` ${t.status} ${t.failureTag ?? ""}: ${t.summary?.split("\n")[0]}`).join("; ")}.

### Faults
| planned step | count |
|---|---|
${table(stepKinds)}

| fault applied (from the results; tests cut off by SIGKILL not included) | count |
|---|---|
${table(faultKinds)}

### Leftovers found after each run (summed over runs)
| what | normal end (${normal.length}) | Ctrl-C (${interrupted.length}) | SIGKILL, before clean (${killed.length}) | SIGKILL, after clean |
|---|---|---|---|---|
${leftoverRows}

After the SIGKILLs the cleans reported removing ${removedTotal("process")} processes, ${removedTotal("iptables-rule")} iptables rules and ${removedTotal("qdisc")} qdiscs of the killed drivers (${killed.filter((r) => r.clean?.how === "ducktape clean").length} by \`ducktape clean\`, ${killed.filter((r) => r.clean?.how !== "ducktape clean").length} by the next run's start-up clean)${killed.some((r) => (r.clean?.foreign ?? 0) > 0) ? `, and ${killed.reduce((n, r) => n + (r.clean?.foreign ?? 0), 0)} leftovers of other dead sessions on this machine` : ""}.

Heals that failed (\`could not heal\` in a test's log): ${runs.filter((r) => r.sent?.signal !== "SIGKILL").reduce((n, r) => n + r.tests.reduce((m, t) => m + t.healFailures.length, 0), 0)} in the runs not SIGKILLed.

### Logs
${logsChecked} ticker logs checked in the runs not SIGKILLed; ${incomplete} incomplete; ${notStarted} nodes whose ticker had not started when the run was interrupted (no log expected).
`
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

/** What `drive` found. */
export interface Outcome {
  /** Nothing leaked (beyond what a SIGKILL leaves and the following clean removed) and every log was complete. */
  readonly ok: boolean
  readonly failures: ReadonlyArray<string>
  readonly labUpSeconds: number
  readonly runs: ReadonlyArray<RunRecord>
  readonly markdown: string
}

/** Brings a lab up, does the runs, checks after each, takes the lab down. */
export const drive = (options: Options): Effect.Effect<Outcome, Lab.LabError> =>
  Effect.scoped(Effect.gen(function*() {
    const started = Date.now()
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-chaos-${process.pid}-`))),
      (dir) => Effect.sync(() => (options.keep ? options.log(`kept ${dir}`) : NodeFs.rmSync(dir, { recursive: true, force: true })))
    )
    // Labs of concurrent drivers (and of other work on this machine) must not meet: the name carries our pid.
    const lab = yield* Lab.scoped({ nodes: 3, name: `ch${process.pid.toString(36)}`, dir: NodePath.join(root, "lab") })
    const labUpSeconds = (Date.now() - started) / 1000
    options.log(`lab ${lab.name} up in ${labUpSeconds.toFixed(1)}s; ${options.runs} runs of ${options.tests.join(",")}`)
    const ended = new Set<number>()
    const runs: Array<RunRecord> = []
    for (let k = 0; k < options.runs; k++) runs.push(yield* run(lab, options, NodePath.join(root, "results"), k, ended, runs))
    const v = verdict(runs)
    const text = markdown(runs, options, v, labUpSeconds, (Date.now() - started) / 1000)
    return { ok: v.ok, failures: v.failures, labUpSeconds, runs, markdown: text }
  }))
