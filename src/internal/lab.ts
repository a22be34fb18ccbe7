import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import type { Context } from "effect"
import { Duration, Effect, Layer, Option, Schedule, Schema, Scope } from "effect"
import type * as L from "../Lab.js"
import { defaultName, defaultWorkdir, LabError } from "../Lab.js"
import * as Shell from "../Shell.js"
import type { SshdError } from "../Sshd.js"
import * as Sshd from "../Sshd.js"
import { signal } from "./localProcesses.js"
import * as Release from "./release.js"
import { errorText } from "./errorText.js"

// ---------------------------------------------------------------------------------------------------------
// Names: everything a lab makes is named from its id, so `down` finds it again after a crash.
// ---------------------------------------------------------------------------------------------------------

// Interface names are limited to 15 chars: `dt-<8>-br` and `dt-<8>-<3 digits>` fit.
const namePattern = /^[a-z][a-z0-9]{0,7}$/
const firstHost = 11
const maxNodes = 254 - firstHost + 1
const sshPort = 22

const bridgeName = (id: string) => `dt-${id}-br`
const vethName = (id: string, k: number) => `dt-${id}-${k}`
const netnsName = (id: string, k: number) => `${id}-n${k}`
const ruleComment = (id: string) => `dt-lab:${id}`
const isLabNetns = (id: string) => (ns: string) => new RegExp(`^${id}-n\\d+$`).test(ns)
const isLabLink = (id: string) => (link: string) => link === bridgeName(id) || new RegExp(`^dt-${id}-\\d+$`).test(link)

const forwardRule = (id: string) => [
  "FORWARD",
  "-i",
  bridgeName(id),
  "-o",
  bridgeName(id),
  "-m",
  "comment",
  "--comment",
  ruleComment(id),
  "-j",
  "ACCEPT"
]

// ---------------------------------------------------------------------------------------------------------
// Named schedules and limits
// ---------------------------------------------------------------------------------------------------------

/** How often to look whether ended processes are gone. */
const processExitPoll = Schedule.spaced("20 millis")
const termGrace = Duration.seconds(1)
const killWait = Duration.seconds(3)
const commandTimeout = Duration.seconds(30)
const defaultDownTimeout = Duration.seconds(30)

// ---------------------------------------------------------------------------------------------------------
// Running tools
// ---------------------------------------------------------------------------------------------------------

const searchPath = (): ReadonlyArray<string> => {
  const dirs = (process.env["PATH"] ?? "").split(":").filter((d) => d !== "")
  // root's PATH from some shells lacks the sbin directories where ip, iptables and sshd live.
  return [...dirs, "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
}

const toolEnv = (): NodeJS.ProcessEnv => ({ PATH: searchPath().join(":"), LC_ALL: "C" })

interface Tools {
  readonly ip: string
  readonly iptables: Option.Option<string>
  readonly unshare: string
}

const findTool = (name: string): Effect.Effect<Option.Option<string>> =>
  Effect.promise(async () => {
    for (const dir of searchPath()) {
      const candidate = NodePath.join(dir, name)
      const ok = await NodeFs.access(candidate, NodeFs.constants.X_OK).then(() => true, () => false)
      if (ok) return Option.some(candidate)
    }
    return Option.none()
  })

const checkRoot = (lab: string) =>
  process.getuid?.() === 0
    ? Effect.void
    : Effect.fail(
      new LabError({ lab, reason: "not-root", detail: `running as uid ${process.getuid?.() ?? "?"}, not root` })
    )

const requireTool = (lab: string, name: string) =>
  Effect.flatMap(findTool(name), (found) =>
    Option.match(found, {
      onSome: Effect.succeed,
      onNone: () =>
        Effect.fail(new LabError({ lab, reason: "missing-tool", detail: `\`${name}\` was not found on the PATH` }))
    }))

/** Everything `up` needs, checked before anything is made so a missing tool fails cleanly. */
const preflight = (lab: string) =>
  Effect.gen(function*() {
    yield* checkRoot(lab)
    // sshd and ssh-keygen are run by Sshd.start; checked here so the error names every package at once.
    const [ip, iptables, unshare] = yield* Effect.all([
      requireTool(lab, "ip"),
      requireTool(lab, "iptables"),
      requireTool(lab, "unshare"),
      requireTool(lab, "ssh-keygen"),
      requireTool(lab, "sshd")
    ], { concurrency: "unbounded" })
    const tools: Tools = { ip, iptables: Option.some(iptables), unshare }
    return tools
  })

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

// Bounds here never rely on interrupting a fiber: `down` runs in scope finalizers, where nothing can be interrupted,
// so each command carries its own kill timer and each wait ends by its own schedule.
const run = (lab: string, argv: ReadonlyArray<string>, stdin?: string): Effect.Effect<Ran, LabError> => {
  const [file, ...args] = argv
  if (file === undefined) return Effect.die("empty argv")
  return Effect.async<Ran, LabError>((resume) => {
    const child = ChildProcess.execFile(
      file,
      args,
      {
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
        env: toolEnv(),
        timeout: Duration.toMillis(commandTimeout),
        killSignal: "SIGKILL"
      },
      (error, stdout, stderr) => {
        if (error === null) return resume(Effect.succeed({ code: 0, stdout, stderr }))
        if (typeof error.code === "number") return resume(Effect.succeed({ code: error.code, stdout, stderr }))
        if (error.killed === true) {
          return resume(Effect.fail(
            new LabError({
              lab,
              reason: "timeout",
              detail: `${Shell.join(argv)} did not finish within ${Duration.format(commandTimeout)}`
            })
          ))
        }
        if (error.signal) return resume(Effect.succeed({ code: 128, stdout, stderr: `${stderr}killed by ${error.signal}` }))
        resume(Effect.fail(new LabError({ lab, reason: "command-failed", detail: `${Shell.join(argv)}: ${error.message}` })))
      }
    )
    child.stdin?.on("error", () => {})
    child.stdin?.end(stdin)
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })
}

const failed = (lab: string, argv: ReadonlyArray<string>, ran: Ran, stdin?: string) =>
  new LabError({
    lab,
    reason: "command-failed",
    detail: `${Shell.join(argv)}${stdin === undefined ? "" : ` with input:\n${stdin.trimEnd()}\n`} exited with status ` +
      `${ran.code}: ${ran.stderr.trim() || "(no error output)"}`
  })

const runOk = (lab: string, argv: ReadonlyArray<string>, stdin?: string): Effect.Effect<string, LabError> =>
  Effect.flatMap(run(lab, argv, stdin), (ran) =>
    ran.code === 0 ? Effect.succeed(ran.stdout) : Effect.fail(failed(lab, argv, ran, stdin)))

// ---------------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------------

const fileError = (lab: string, what: string) => (e: unknown) =>
  new LabError({ lab, reason: "command-failed", detail: `${what}: ${errorText(e)}` })

const writeFile = (lab: string, path: string, data: string, mode = 0o644) =>
  Effect.tryPromise({ try: () => NodeFs.writeFile(path, data, { mode }), catch: fileError(lab, `writing ${path}`) })

const mkdirs = (lab: string, paths: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: () => Promise.all(paths.map((p) => NodeFs.mkdir(p, { recursive: true }))),
    catch: fileError(lab, "creating directories")
  })

const readText = (path: string): Effect.Effect<Option.Option<string>> =>
  Effect.promise(() => NodeFs.readFile(path, "utf8").then(Option.some, () => Option.none()))

const tail = (text: string, lines: number) => text.trimEnd().split("\n").slice(-lines).join("\n")

// ---------------------------------------------------------------------------------------------------------
// The state file
// ---------------------------------------------------------------------------------------------------------

const LabNodeSchema = Schema.Struct({
  name: Schema.String,
  address: Schema.String,
  sshPort: Schema.Number,
  netns: Schema.String,
  veth: Schema.String,
  workdir: Schema.String,
  hostWorkdir: Schema.String,
  home: Schema.String,
  sshdConfig: Schema.String,
  pidFile: Schema.String,
  logFile: Schema.String
})

const LabSchema = Schema.Struct({
  name: Schema.String,
  dir: Schema.String,
  subnet: Schema.String,
  gateway: Schema.String,
  bridge: Schema.String,
  workdir: Schema.String,
  clusterFile: Schema.String,
  knownHostsFile: Schema.String,
  identityFile: Schema.String,
  nodes: Schema.Array(LabNodeSchema)
})

// The compiler checks that the file's schema and the public interface say the same thing.
const _sameShape: Schema.Schema<L.Lab> = LabSchema
void _sameShape

const StateFile = Schema.parseJson(Schema.Struct({
  version: Schema.Literal(1),
  createdBy: Schema.Number,
  createdAt: Schema.String,
  lab: LabSchema
}))

const stateFile = (dir: string) => NodePath.join(dir, "lab.json")

/** The lab recorded in `dir`, if any (an unreadable file counts as none: `down` must still work). */
const readState = (dir: string): Effect.Effect<Option.Option<L.Lab>> =>
  Effect.flatMap(readText(stateFile(dir)), (text) =>
    Option.match(text, {
      onNone: () => Effect.succeed(Option.none()),
      onSome: (t) =>
        Schema.decodeUnknown(StateFile)(t).pipe(
          Effect.map((s) => Option.some(s.lab)),
          Effect.orElseSucceed(() => Option.none())
        )
    }))

/** @internal */
export const read = (dir: string): Effect.Effect<L.Lab, LabError> =>
  Effect.flatMap(readState(NodePath.resolve(dir)), (state) =>
    Option.match(state, {
      onSome: Effect.succeed,
      onNone: () =>
        Effect.fail(
          new LabError({ lab: "?", reason: "invalid-options", detail: `no readable lab.json in ${NodePath.resolve(dir)}` })
        )
    }))

// ---------------------------------------------------------------------------------------------------------
// Options and layout
// ---------------------------------------------------------------------------------------------------------

const invalid = (lab: string, detail: string) => new LabError({ lab, reason: "invalid-options", detail })

const checkName = (name: string) =>
  namePattern.test(name)
    ? Effect.void
    : Effect.fail(invalid(name, "the name must be 1–8 lowercase letters or digits starting with a letter"))

/** `a.b.c.0/24` → `a.b.c` */
const parseSubnet = (subnet: string): Option.Option<string> => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(subnet.trim())
  if (m === null) return Option.none()
  const octets = [m[1], m[2], m[3]].map(Number)
  return octets.every((o) => o <= 255) ? Option.some(octets.join(".")) : Option.none()
}

const layout = (name: string, dir: string, prefix: string, nodes: number, workdir: string): L.Lab => ({
  name,
  dir,
  subnet: `${prefix}.0/24`,
  gateway: `${prefix}.1`,
  bridge: bridgeName(name),
  workdir,
  clusterFile: NodePath.join(dir, "cluster.json"),
  knownHostsFile: NodePath.join(dir, "known_hosts"),
  identityFile: NodePath.join(dir, "id_ed25519"),
  nodes: Array.from({ length: nodes }, (_, i) => {
    const k = i + 1
    const nodeDir = NodePath.join(dir, "nodes", `n${k}`)
    return {
      name: `n${k}`,
      address: `${prefix}.${firstHost + i}`,
      sshPort,
      netns: netnsName(name, k),
      veth: vethName(name, k),
      workdir,
      hostWorkdir: NodePath.join(nodeDir, "work"),
      home: NodePath.join(nodeDir, "home"),
      sshdConfig: NodePath.join(nodeDir, "sshd_config"),
      pidFile: NodePath.join(nodeDir, "sshd.pid"),
      logFile: NodePath.join(nodeDir, "sshd.log")
    }
  })
})

// ---------------------------------------------------------------------------------------------------------
// Subnets
// ---------------------------------------------------------------------------------------------------------

const ipToInt = (ip: string): number => ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0)

const decodeRoutes = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Array(Schema.Struct({ dst: Schema.String, dev: Schema.optional(Schema.String) })))
)

/** The IPv4 networks routed in the root namespace, as [base, size] ranges. */
const routedRanges = (lab: string) =>
  Effect.map(runOk(lab, ["ip", "-j", "-4", "route", "show"]), (out) => {
    return Option.getOrElse(decodeRoutes(out), () => []).flatMap((r) => {
      if (r.dst === "default") return []
      const [addr = "", bits = "32"] = r.dst.split("/")
      const size = 2 ** (32 - Number(bits))
      return [{ base: Math.floor(ipToInt(addr) / size) * size, size, dst: r.dst, dev: r.dev ?? "?" }]
    })
  })

const overlapping = (ranges: ReadonlyArray<{ base: number; size: number; dst: string; dev: string }>, prefix: string) => {
  const base = ipToInt(`${prefix}.0`)
  return ranges.find((r) => r.base < base + 256 && base < r.base + r.size)
}

const fnv1a = (s: string) => {
  let h = 0x811c9dc5
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0
  return h
}

const chooseSubnet = (name: string, requested: string | undefined) =>
  Effect.gen(function*() {
    const ranges = yield* routedRanges(name)
    if (requested !== undefined) {
      const prefix = yield* Option.match(parseSubnet(requested), {
        onSome: Effect.succeed,
        onNone: () => Effect.fail(invalid(name, `subnet ${JSON.stringify(requested)} is not of the form a.b.c.0/24`))
      })
      const clash = overlapping(ranges, prefix)
      if (clash !== undefined) {
        return yield* Effect.fail(
          new LabError({
            lab: name,
            reason: "subnet-in-use",
            detail: `subnet ${requested} overlaps ${clash.dst} on ${clash.dev}`
          })
        )
      }
      return prefix
    }
    // A stable default per name, probing onward when another lab or network already has it.
    const start = fnv1a(name) % 256
    for (let i = 0; i < 256; i++) {
      const prefix = `10.201.${(start + i) % 256}`
      if (overlapping(ranges, prefix) === undefined) return prefix
    }
    return yield* Effect.fail(
      new LabError({ lab: name, reason: "subnet-in-use", detail: "every 10.201.<k>.0/24 is in use; pass `subnet`" })
    )
  })

// ---------------------------------------------------------------------------------------------------------
// Processes in the lab's namespaces
// ---------------------------------------------------------------------------------------------------------

const netnsInode = (ns: string): Effect.Effect<Option.Option<number>> =>
  Effect.promise(() => NodeFs.stat(`/run/netns/${ns}`).then((s) => Option.some(s.ino), () => Option.none()))

/** Every process whose network namespace is one of `inodes` (what `ip netns pids` does, for all at once). */
const pidsInNetns = (inodes: ReadonlySet<number>): Effect.Effect<ReadonlyArray<number>> =>
  inodes.size === 0 ? Effect.succeed([]) : Effect.promise(async () => {
    const entries = await NodeFs.readdir("/proc").catch(() => [] as Array<string>)
    const found = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map(async (e) => {
      const link = await NodeFs.readlink(`/proc/${e}/ns/net`).catch(() => "")
      const m = /^net:\[(\d+)\]$/.exec(link)
      return m !== null && inodes.has(Number(m[1])) ? [Number(e)] : []
    }))
    return found.flat().filter((pid) => pid !== process.pid)
  })

/** A process still counts while it exists and is not a zombie. */
const isAlive = (pid: number): Effect.Effect<boolean> =>
  Effect.promise(() =>
    NodeFs.readFile(`/proc/${pid}/stat`, "utf8").then(
      (stat) => !/^\d+ \(.*\) Z/s.test(stat),
      () => false
    )
  )

const survivorsOf = (pids: ReadonlyArray<number>) =>
  Effect.map(Effect.forEach(pids, (pid) => Effect.map(isAlive(pid), (alive) => (alive ? [pid] : []))), (r) => r.flat())

const awaitExit = (pids: ReadonlyArray<number>, limit: Duration.Duration) =>
  survivorsOf(pids).pipe(
    Effect.repeat({ schedule: Schedule.upTo(processExitPoll, limit), until: (left) => left.length === 0 }),
    Effect.zipRight(survivorsOf(pids))
  )

/** The sshd a pid file names, if that pid is still one of ours (pid files outlive their processes). */
const sshdFromPidFile = (node: L.LabNode): Effect.Effect<Option.Option<number>> =>
  Effect.gen(function*() {
    const text = yield* readText(node.pidFile)
    const pid = Option.flatMap(text, (t) => (/^\d+\s*$/.test(t) ? Option.some(Number(t)) : Option.none()))
    if (Option.isNone(pid)) return Option.none()
    const cmdline = yield* readText(`/proc/${pid.value}/cmdline`)
    return Option.filter(pid, () => Option.exists(cmdline, (c) => c.includes("sshd") && c.includes(node.sshdConfig)))
  })

// ---------------------------------------------------------------------------------------------------------
// Teardown
// ---------------------------------------------------------------------------------------------------------

const listNetns = (lab: string) =>
  Effect.map(runOk(lab, ["ip", "netns", "list"]), (out) =>
    out.split("\n").map((l) => l.trim().split(/\s+/)[0] ?? "").filter((n) => n !== ""))

const listLinks = (lab: string) =>
  Effect.map(runOk(lab, ["ip", "-o", "link", "show"]), (out) =>
    out.split("\n").flatMap((l) => {
      const m = /^\d+:\s+([^:@\s]+)/.exec(l)
      return m?.[1] === undefined ? [] : [m[1]]
    }))

const labFiles = ["cluster.json", "known_hosts", "id_ed25519", "id_ed25519.pub", "authorized_keys", "hosts", "nodes"]

/**
 * A link that is already gone. A veth also vanishes, asynchronously, when its peer's namespace is deleted, so
 * "Cannot find device" and "No such device" both mean there is nothing left to delete.
 */
const goneLink = /Cannot find device|No such device/

const teardown = (
  tools: { readonly iptables: Option.Option<string> },
  name: string,
  state: Option.Option<L.Lab>,
  removeFilesIn: Option.Option<string>
): Effect.Effect<L.DownSummary, LabError> =>
  Effect.gen(function*() {
    const namespaces = (yield* listNetns(name)).filter(isLabNetns(name))
    const inodes = new Set((yield* Effect.forEach(namespaces, netnsInode)).flatMap(Option.toArray))
    const fromPidFiles = Option.isSome(state)
      ? (yield* Effect.forEach(state.value.nodes, sshdFromPidFile)).flatMap(Option.toArray)
      : []

    // Everything running in a lab namespace is the lab's: sshds, their sessions, services tests started.
    const initial = [...new Set([...fromPidFiles, ...(yield* pidsInNetns(inodes))])]
    yield* signal(initial, "SIGTERM")
    yield* awaitExit(initial, termGrace)
    // Rescan: an sshd may have forked a session between the scan and its signal.
    let ended = new Set(initial)
    let survivors: ReadonlyArray<number> = []
    for (let round = 0; round < 3; round++) {
      const left = [...new Set([...(yield* survivorsOf([...ended])), ...(yield* pidsInNetns(inodes))])]
      if (left.length === 0) {
        survivors = []
        break
      }
      ended = new Set([...ended, ...left])
      yield* signal(left, "SIGKILL")
      survivors = yield* awaitExit(left, killWait)
    }

    const ignoring = (argv: ReadonlyArray<string>, gone: RegExp) =>
      Effect.flatMap(run(name, argv), (ran) =>
        ran.code === 0 || gone.test(ran.stderr) ? Effect.void : Effect.fail(failed(name, argv, ran)))
    yield* Effect.forEach(namespaces, (ns) => ignoring(["ip", "netns", "delete", ns], /No such file/), {
      concurrency: "unbounded",
      discard: true
    })

    // Veths normally vanish with their namespace (asynchronously); one whose namespace outlived its name goes here.
    const links = (yield* listLinks(name)).filter(isLabLink(name))
    const removeLinks = Effect.zipRight(
      Effect.forEach(
        links.filter((l) => l !== bridgeName(name)),
        (link) => ignoring(["ip", "link", "delete", link], goneLink),
        { concurrency: "unbounded", discard: true }
      ),
      Effect.forEach(
        links.filter((l) => l === bridgeName(name)),
        (link) => ignoring(["ip", "link", "delete", link], goneLink),
        { discard: true }
      )
    )
    // `-D` removes one copy of the rule per call; an interrupted earlier `up` may have left more than one.
    const removeRules = Option.match(tools.iptables, {
      onNone: () => Effect.succeed(0),
      onSome: (iptables) => {
        const deleteFrom = (removed: number): Effect.Effect<number, LabError> =>
          removed >= 16 ? Effect.succeed(removed) : Effect.flatMap(
            run(name, [iptables, "-w", "5", "-D", ...forwardRule(name)]),
            (ran) => (ran.code === 0 ? deleteFrom(removed + 1) : Effect.succeed(removed))
          )
        return deleteFrom(0)
      }
    })
    const [, rules] = yield* Effect.all([removeLinks, removeRules], { concurrency: "unbounded" })

    if (Option.isSome(removeFilesIn)) {
      const dir = removeFilesIn.value
      yield* Effect.promise(() =>
        Promise.all([...labFiles, "lab.json"].map((f) => NodeFs.rm(NodePath.join(dir, f), { recursive: true, force: true })))
      )
      yield* Effect.promise(() => NodeFs.rmdir(dir).catch(() => undefined)) // only if now empty
    }

    const summary: L.DownSummary = {
      name,
      namespaces,
      links,
      processes: ended.size,
      iptablesRules: rules,
      survivors
    }
    if (summary.namespaces.length + summary.links.length + summary.processes + summary.iptablesRules > 0) {
      yield* Effect.logDebug("lab down", summary)
    }
    return summary
  }).pipe(Effect.annotateLogs({ lab: name }))

/** @internal */
export const down = (options: L.DownOptions): Effect.Effect<L.DownSummary, LabError> =>
  Effect.gen(function*() {
    const label = options.name ?? options.dir ?? "?"
    yield* checkRoot(label)
    yield* requireTool(label, "ip")
    const iptables = yield* findTool("iptables")
    const dir = options.dir === undefined ? Option.none<string>() : Option.some(NodePath.resolve(options.dir))
    const state = Option.isSome(dir) ? yield* readState(dir.value) : Option.none<L.Lab>()
    if (options.name !== undefined && Option.isSome(state) && state.value.name !== options.name) {
      return yield* Effect.fail(
        invalid(options.name, `${Option.getOrElse(dir, () => "")} holds lab ${JSON.stringify(state.value.name)}, not this one`)
      )
    }
    const name = options.name ?? Option.getOrUndefined(Option.map(state, (s) => s.name))
    if (name === undefined) {
      // Nothing recorded and no name: there is nothing to find, which for an idempotent down is success.
      return { name: "?", namespaces: [], links: [], processes: 0, iptablesRules: 0, survivors: [] }
    }
    yield* checkName(name)
    const limit = Duration.decode(options.timeout ?? defaultDownTimeout)
    return yield* teardown({ iptables }, name, state, options.keepFiles === true ? Option.none() : dir).pipe(
      Effect.timeoutFail({
        duration: limit,
        onTimeout: () =>
          new LabError({ lab: name, reason: "timeout", detail: `down did not finish within ${Duration.format(limit)}` })
      })
    )
  }).pipe(Effect.withSpan("Lab.down"))

/** @internal */
export const list: Effect.Effect<ReadonlyArray<string>, LabError> = Effect.gen(function*() {
  yield* requireTool("?", "ip")
  // Interface names with our `dt-` prefix only: namespace names alone (`x-n1`) may belong to someone else.
  const names = (yield* listLinks("?")).flatMap((l) => {
    const m = /^dt-([a-z][a-z0-9]{0,7})-(?:br|\d+)$/.exec(l)
    return m?.[1] === undefined ? [] : [m[1]]
  })
  return [...new Set(names)].sort()
})

const anythingPresent = (name: string) =>
  Effect.map(
    Effect.all([listLinks(name), listNetns(name)]),
    ([links, namespaces]) => links.some(isLabLink(name)) || namespaces.some(isLabNetns(name))
  )

// ---------------------------------------------------------------------------------------------------------
// Bring-up
// ---------------------------------------------------------------------------------------------------------

const hostsText = (lab: L.Lab) =>
  [
    "127.0.0.1 localhost",
    "::1 localhost ip6-localhost ip6-loopback",
    ...lab.nodes.map((n) => `${n.address} ${n.name}`),
    ""
  ].join("\n")

const clusterJson = (lab: L.Lab) =>
  JSON.stringify(
    {
      nodes: lab.nodes.map((n) => ({
        ssh_config: {
          host: n.name,
          hostname: n.address,
          user: "root",
          port: n.sshPort,
          identityfile: lab.identityFile
        },
        externally_routable_ip: n.address,
        workdir: n.workdir,
        netns: n.netns
      })),
      known_hosts: lab.knownHostsFile,
      lab: { name: lab.name, subnet: lab.subnet, bridge: lab.bridge, dir: lab.dir }
    },
    null,
    2
  ) + "\n"

const buildNetwork = (tools: Tools, lab: L.Lab) =>
  Effect.gen(function*() {
    const root = [
      ...lab.nodes.map((n) => `netns add ${n.netns}`),
      `link add ${lab.bridge} type bridge`,
      `addr add ${lab.gateway}/24 dev ${lab.bridge}`,
      `link set ${lab.bridge} up`,
      ...lab.nodes.flatMap((n) => [
        `link add ${n.veth} type veth peer name eth0 netns ${n.netns}`,
        `link set ${n.veth} master ${lab.bridge} up`
      ]),
      ""
    ].join("\n")
    yield* runOk(lab.name, [tools.ip, "-batch", "-"], root)
    yield* Effect.forEach(lab.nodes, (n) =>
      runOk(
        lab.name,
        [tools.ip, "-n", n.netns, "-batch", "-"],
        [`addr add ${n.address}/24 dev eth0`, "link set eth0 up", "link set lo up", `route add default via ${lab.gateway}`, ""]
          .join("\n")
      ), { concurrency: "unbounded", discard: true })
    if (Option.isSome(tools.iptables)) {
      // Where br_netfilter is loaded, bridged frames pass FORWARD; this keeps the lab working under a DROP policy.
      yield* runOk(lab.name, [tools.iptables.value, "-w", "5", "-I", ...forwardRule(lab.name)])
    }
  })

const sshdError = (lab: L.Lab, node: L.LabNode) => (e: SshdError) =>
  new LabError({ lab: lab.name, reason: "sshd-failed", detail: `the sshd of ${node.name} (${node.address}): ${e.message}` })

/**
 * Starts a node's sshd inside its namespace, under a wrapper that gives it its own hostname, working directory
 * and /etc/hosts. The server outlives this process: `down` ends it by namespace, so `sshds` is never closed
 * on success.
 */
const startSshd = (
  tools: Tools,
  lab: L.Lab,
  node: L.LabNode,
  authorizedKeys: ReadonlyArray<string>,
  extra: ReadonlyArray<string>,
  sshds: Scope.Scope
) => {
  const q = Shell.quote
  const script = [
    `printf %s ${q(node.name)} > /proc/sys/kernel/hostname`,
    `mkdir -p ${q(node.workdir)}`,
    `mount --bind ${q(node.hostWorkdir)} ${q(node.workdir)}`,
    `mount --bind ${q(NodePath.join(lab.dir, "hosts"))} /etc/hosts`,
    // exec keeps the pid: sshd's pid file names the process that holds these namespaces.
    `exec "$@"`
  ].join(" && ")
  return Sshd.start({
    address: node.address,
    port: node.sshPort,
    dir: NodePath.dirname(node.sshdConfig),
    authorizedKeys,
    home: node.home,
    netns: node.netns,
    wrap: [tools.unshare, "--mount", "--propagation", "slave", "--uts", "/bin/sh", "-c", script, `lab-${node.name}`],
    ...(extra.length === 0 ? {} : { extraConfig: extra.join("\n") })
  }).pipe(Scope.extend(sshds), Effect.mapError(sshdError(lab, node)))
}

const build = (tools: Tools, lab: L.Lab, options: L.LabOptions, sshds: Scope.Scope) =>
  Effect.gen(function*() {
    yield* mkdirs(lab.name, [lab.dir, ...lab.nodes.flatMap((n) => [n.hostWorkdir, n.home])])
    // Recorded before anything is made, so `down({ dir })` finds a lab whose `up` crashed half way.
    yield* writeFile(
      lab.name,
      stateFile(lab.dir),
      JSON.stringify({ version: 1, createdBy: process.pid, createdAt: new Date().toISOString(), lab }, null, 2) + "\n"
    )
    const [clientKey] = yield* Effect.all([
      Sshd.generateKeyPair(lab.identityFile).pipe(
        Effect.mapError((e) => new LabError({ lab: lab.name, reason: "command-failed", detail: e.message }))
      ),
      buildNetwork(tools, lab),
      writeFile(lab.name, NodePath.join(lab.dir, "hosts"), hostsText(lab))
    ], { concurrency: "unbounded" })

    const authorizedKeys = [clientKey.publicKey, ...(options.authorizedKeys ?? [])]
    const handles = yield* Effect.forEach(
      lab.nodes,
      (n) => startSshd(tools, lab, n, authorizedKeys, options.sshdConfig ?? [], sshds),
      { concurrency: "unbounded" }
    )
    const knownHosts = lab.nodes.map((n, i) => {
      const key = (handles[i]?.hostPublicKey ?? "").split(/\s+/).slice(0, 2).join(" ")
      return `${n.name},${n.address} ${key}`
    })
    yield* writeFile(lab.name, lab.knownHostsFile, knownHosts.join("\n") + "\n")
    // Last: a cluster file exists only for a lab that is fully up.
    yield* writeFile(lab.name, lab.clusterFile, clusterJson(lab))
  })

/** @internal */
export const up = (options: L.LabOptions): Effect.Effect<L.Lab, LabError> =>
  Effect.gen(function*() {
    const name = options.name ?? defaultName
    yield* checkName(name)
    if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > maxNodes) {
      return yield* Effect.fail(invalid(name, `nodes must be an integer from 1 to ${maxNodes}, got ${options.nodes}`))
    }
    const workdir = options.workdir ?? defaultWorkdir
    if (!NodePath.isAbsolute(workdir) || NodePath.resolve(workdir) === "/") {
      return yield* Effect.fail(invalid(name, `workdir must be an absolute path other than /, got ${JSON.stringify(workdir)}`))
    }
    const dir = NodePath.resolve(options.dir)
    const tools = yield* preflight(name)

    const prior = yield* readState(dir)
    if (Option.isSome(prior) && prior.value.name !== name && (yield* anythingPresent(prior.value.name))) {
      return yield* Effect.fail(
        new LabError({
          lab: name,
          reason: "dir-in-use",
          detail: `${dir} belongs to lab ${JSON.stringify(prior.value.name)}, which is up`
        })
      )
    }
    // A lab of this name left from before (a crash, a forgotten down) goes first.
    const stale = yield* teardown(
      tools,
      name,
      Option.filter(prior, (p) => p.name === name),
      Option.some(dir)
    )
    if (stale.namespaces.length + stale.links.length + stale.processes > 0) {
      yield* Effect.logInfo(`took down a stale lab ${name} first`)
    }

    const prefix = yield* chooseSubnet(name, options.subnet)
    const lab = layout(name, dir, prefix, options.nodes, NodePath.resolve(workdir))
    // Never closed: the sshds must outlive this call (and this process); `down` ends them by namespace.
    const sshds = yield* Scope.make()
    yield* build(tools, lab, options, sshds).pipe(
      // Also on interruption; the teardown is bounded on its own, as it runs where nothing can interrupt it.
      Effect.onError(() =>
        teardown(tools, name, Option.some(lab), Option.some(dir)).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("could not remove a partly built lab", cause))
        )
      )
    )
    return lab
  }).pipe(
    // `up` cleans up after itself when interrupted, so it may be; and waits with timeouts and races (Sshd.start)
    // hang when run uninterruptibly, as in the acquire step of `scoped`.
    Effect.interruptible,
    Effect.withSpan("Lab.up"),
    Effect.annotateLogs({ lab: options.name ?? defaultName })
  )

/** @internal */
export const scoped = (options: L.LabOptions): Effect.Effect<L.Lab, LabError, Scope.Scope> =>
  Effect.acquireRelease(up(options), (lab) =>
    Release.bounded(down({ name: lab.name, dir: lab.dir }), defaultDownTimeout, () => "timed out").pipe(
      Effect.catchAllCause((cause) => Effect.logWarning(`could not take lab ${lab.name} down`, cause)),
      Effect.asVoid
    ))

/** @internal */
export const layer = (tag: Context.Tag<L.Lab, L.Lab>, options: L.LabOptions): Layer.Layer<L.Lab, LabError> =>
  Layer.scoped(tag, scoped(options))
