/**
 * A PRIVATE Docker daemon for one test file (or bench), on a socket of its own, that puts the host back as it found
 * it when stopped.
 *
 * What dockerd changes on the host, and how this undoes it:
 * - ip_forward: dockerd sets it to 1 and, when it was the one to switch it on, also sets the iptables FORWARD policy
 *   to DROP, which would cut the namespace lab's bridge traffic in tests running beside ours. We switch ip_forward
 *   on ourselves first (recording the old value), so dockerd leaves the policy alone; the old value and the policy
 *   are restored at stop.
 * - iptables: dockerd adds DOCKER* chains and rules (filter and nat). At stop, every chain that was not there
 *   before, and every rule that jumps to one or names one of our bridges, is removed; rules others added
 *   meanwhile (the lab's) are left alone.
 * - its bridge: `--bridge=none`; each run makes a network of its own and removes it.
 *
 * The data root is kept under /var/tmp/ducktape-docker-test so the built node image survives between test runs
 * (the first build on a fresh machine takes ~30-60 s or more, depending on the mirror); the exec root and socket are
 * per process. The daemon is stopped by its pid (TERM, then KILL).
 *
 * Who stops it: the scope that started it, else (the test worker was ended before its afterAll hooks ran — vitest
 * ends a fork with SIGTERM, no `exit` event — or was killed) a guard started beside the daemon: a detached shell that
 * waits for the worker's pid to go away and then runs `dockerdRestore.ts` on the state this file wrote. Whichever
 * claims the state file first (an atomic rename) stops the daemon and puts the host back; the other does nothing.
 */
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import type { Scope } from "effect"
import { Effect } from "effect"

/** A private dockerd that is up. */
export interface PrivateDockerd {
  /** `unix:///…/docker.sock`, for DOCKER_HOST or an endpoint list. */
  readonly host: string
  readonly pid: number
  readonly dataRoot: string
}

const cacheRoot = "/var/tmp/ducktape-docker-test"

const run = (argv: ReadonlyArray<string>): { code: number; stdout: string; stderr: string } => {
  const r = ChildProcess.spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 30_000 })
  return { code: r.status ?? 255, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}

const iptablesState = (table: string) => {
  const lines = run(["iptables", "-w", "5", "-t", table, "-S"]).stdout.split("\n").filter((l) => l !== "")
  return {
    chains: new Set(lines.filter((l) => l.startsWith("-N ")).map((l) => l.slice(3).trim())),
    rules: new Set(lines.filter((l) => l.startsWith("-A "))),
    policy: lines.filter((l) => l.startsWith("-P "))
  }
}

/**
 * dockerd loads br_netfilter, which sends bridged frames (the lab's too) through iptables; where it was not loaded
 * before, it is as if these were 0, which is what they are put back to.
 */
const bridgeNfFiles = ["/proc/sys/net/bridge/bridge-nf-call-iptables", "/proc/sys/net/bridge/bridge-nf-call-ip6tables"]

const safeRead = (f: string) => {
  try {
    return NodeFs.readFileSync(f, "utf8")
  } catch {
    return ""
  }
}

/** Bridges of our runs' networks (`dt<k>-<run>`): dockerd leaves those of networks still defined when it stops. */
const dtLinks = () =>
  new Set(run(["ip", "-o", "link", "show"]).stdout.split("\n").flatMap((l) => {
    const m = /^\d+:\s+(dt\d-[a-z0-9]+)[:@]/.exec(l)
    return m?.[1] === undefined ? [] : [m[1]]
  }))

const withoutStale = (state: ReturnType<typeof iptablesState>, anyDockerd: boolean) =>
  anyDockerd ? state : {
    chains: new Set([...state.chains].filter((c) => !/^DOCKER/.test(c))),
    rules: new Set([...state.rules].filter((r) => !/DOCKER|dt\d-/.test(r))),
    policy: state.policy
  }

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

const restoreScript = NodePath.join(NodePath.dirname(new URL(import.meta.url).pathname), "dockerdRestore.ts")
const repoRoot = NodePath.resolve(NodePath.dirname(new URL(import.meta.url).pathname), "..", "..")

/**
 * The guard: a shell of its own session (vitest ends the worker, not its process group) that polls the worker's pid
 * and, once it is gone, restores from the state file. Its own pid goes in the state, so a normal stop ends it.
 */
const startGuard = (stateFile: string) => {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done; ` +
    `[ -e "$1" ] && exec "$2" --import tsx "$3" "$1"`
  const guard = ChildProcess.spawn("sh", ["-c", script, "guard", stateFile, process.execPath, restoreScript], {
    detached: true,
    stdio: "ignore",
    cwd: repoRoot
  })
  guard.unref()
  return guard.pid ?? 0
}

/** Takes the state file for the one who will stop the daemon; undefined when someone else took it already. */
const claim = (stateFile: string): string | undefined => {
  const claimed = `${stateFile}.stopping.${process.pid}`
  try {
    NodeFs.renameSync(stateFile, claimed)
    return claimed
  } catch {
    return undefined
  }
}

/**
 * For the end of `vitest run` (globalSetup's teardown, after the workers are gone): stops the daemons of workers
 * that ended without stopping theirs and waits (bounded) for guards already at it, so that the host is back as it
 * was when vitest returns, whatever tests were selected. Daemons of live workers (another run's) are left alone.
 */
export const restoreOrphans = (waitMs = 30_000): ReadonlyArray<string> => {
  const restored: Array<string> = []
  const deadline = Date.now() + waitMs
  for (;;) {
    const files = NodeFs.readdirSync("/tmp").filter((f) => /^dtd-[a-z0-9]+-[a-z0-9]+\.json(\.stopping\.\d+)?$/.test(f))
    const orphans = files.filter((f) => {
      const m = /^dtd-[a-z0-9]+-([a-z0-9]+)\.json(?:\.stopping\.(\d+))?$/.exec(f)!
      return !isAlive(m[2] === undefined ? parseInt(m[1]!, 36) : Number(m[2]))
    })
    for (const f of orphans.filter((f) => f.endsWith(".json"))) if (restoreFromFile(NodePath.join("/tmp", f))) restored.push(f)
    // A guard of a dead worker that is stopping its daemon right now: wait for it.
    const busy = files.filter((f) => /\.stopping\.\d+$/.test(f) && NodeFs.existsSync(NodePath.join("/tmp", f)) && !orphans.includes(f))
      .filter((f) => !isAlive(parseInt(/^dtd-[a-z0-9]+-([a-z0-9]+)\.json/.exec(f)![1]!, 36)))
    if (busy.length === 0 || Date.now() > deadline) return restored
    sleep(200)
  }
}

/** Stops the daemon of a state file and puts the host back, unless another process claimed it first. */
export const restoreFromFile = (stateFile: string): boolean => {
  const claimed = claim(stateFile)
  if (claimed === undefined) return false
  try {
    stop(fromJson(NodeFs.readFileSync(claimed, "utf8")))
  } finally {
    NodeFs.rmSync(claimed, { force: true })
  }
  return true
}

/**
 * Starts a private dockerd (`name` keeps two daemons of one process apart). `iptables: false` for a second daemon
 * beside a first one: two daemons would fight over the same DOCKER chains.
 */
export const start = (options: { readonly name: string; readonly iptables?: boolean; readonly dataRoot?: string }): Effect.Effect<PrivateDockerd, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const iptables = options.iptables ?? true
        const dataRoot = options.dataRoot ?? NodePath.join(cacheRoot, options.name)
        // Short: containerd's sockets live under the exec root and unix socket paths are limited to 108 bytes.
        const execRoot = `/tmp/dtd-${options.name}-${process.pid.toString(36)}`
        NodeFs.mkdirSync(dataRoot, { recursive: true })
        NodeFs.rmSync(execRoot, { recursive: true, force: true })
        NodeFs.mkdirSync(execRoot, { recursive: true })
        // One daemon per data root: a daemon of an earlier run that is still alive owns it.
        const pidFile = NodePath.join(dataRoot, "dockerd.pid")
        const priorPid = () => (NodeFs.existsSync(pidFile) ? Number(NodeFs.readFileSync(pidFile, "utf8").trim()) || 0 : 0)
        // Another test run (another worktree, say) holds it: wait for it to end, as a lock, for up to 10 minutes.
        const waitUntil = Date.now() + 10 * 60_000
        while (priorPid() > 0 && isAlive(priorPid()) && Date.now() < waitUntil) sleep(1000)
        const prior = priorPid()
        if (prior > 0 && isAlive(prior)) {
          throw new Error(`the private dockerd data root ${dataRoot} is in use by pid ${prior} (another test run) for more than 10 minutes; let that run end first`)
        }
        // DOCKER chains with no dockerd running are what a daemon of ours that could not clean up left: ours too.
        const anyDockerd = NodeFs.readdirSync("/proc").some((p) => /^\d+$/.test(p) && safeRead(`/proc/${p}/comm`).trim() === "dockerd")
        // Likewise bridges of our runs' networks: with no daemon up, nothing uses them.
        if (!anyDockerd) for (const link of dtLinks()) run(["ip", "link", "delete", link])
        const before = {
          links: dtLinks(),
          ipForward: NodeFs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(),
          bridgeNf: bridgeNfFiles.map((f) => (NodeFs.existsSync(f) ? NodeFs.readFileSync(f, "utf8").trim() : "0")),
          filter: withoutStale(iptablesState("filter"), anyDockerd),
          nat: withoutStale(iptablesState("nat"), anyDockerd)
        }
        if (iptables) NodeFs.writeFileSync("/proc/sys/net/ipv4/ip_forward", "1")
        const socket = NodePath.join(execRoot, "docker.sock")
        const log = NodeFs.openSync(NodePath.join(execRoot, "dockerd.log"), "a")
        // setpriv --pdeathsig: a test worker that dies (or is ended before its hooks ran) takes its daemon along.
        const child = ChildProcess.spawn("setpriv", ["--pdeathsig", "TERM", "--", "/usr/sbin/dockerd",
          "--data-root", dataRoot,
          "--exec-root", execRoot,
          "--pidfile", pidFile,
          "-H", `unix://${socket}`,
          "--bridge=none",
          `--iptables=${iptables}`,
          `--ip-forward=${iptables}`,
          // A private containerd under the exec root: another daemon's must not be shared or disturbed.
          "--containerd-namespace", `dt-${options.name}`,
          "--containerd-plugins-namespace", `dt-${options.name}-p`
        ], { stdio: ["ignore", log, log] })
        NodeFs.closeSync(log)
        child.unref()
        const pid = child.pid!
        const host = `unix://${socket}`
        // The guard and the state file before anything else can fail or be interrupted: from here on the host is ours
        // to put back. Outside the exec root, which stop removes.
        const stateFile = `/tmp/dtd-${options.name}-${process.pid.toString(36)}.json`
        const guarded: State = { pid, host, dataRoot, execRoot, before, iptables, guardPid: startGuard(stateFile) }
        NodeFs.writeFileSync(stateFile, toJson(guarded))
        const deadline = Date.now() + 30_000
        while (Date.now() < deadline) {
          if (run(["/usr/bin/docker", "-H", host, "version", "--format", "{{.Server.Version}}"]).code === 0) break
          if (!isAlive(pid)) break
          sleep(200)
        }
        if (run(["/usr/bin/docker", "-H", host, "version"]).code !== 0) {
          const text = NodeFs.readFileSync(NodePath.join(execRoot, "dockerd.log"), "utf8").split("\n").slice(-15).join("\n")
          restoreFromFile(stateFile)
          throw new Error(`the private dockerd did not come up:\n${text}`)
        }
        // A worker that exits normally before its afterAll hooks ran stops the daemon here (stop is synchronous, so
        // it can run in an exit handler); one ended by a signal leaves it to the guard.
        const onExit = () => restoreFromFile(stateFile)
        process.once("exit", onExit)
        return { ...guarded, onExit, stateFile }
      },
      catch: (e) => (e instanceof Error ? e : new Error(String(e)))
    }),
    (state) =>
      Effect.sync(() => {
        process.removeListener("exit", state.onExit)
        restoreFromFile(state.stateFile)
      })
  ).pipe(Effect.map(({ dataRoot, host, pid }) => ({ host, pid, dataRoot })))

interface State {
  readonly pid: number
  readonly host: string
  readonly dataRoot: string
  readonly execRoot: string
  readonly iptables: boolean
  /** The guard shell that restores if this process dies first; ended by a normal stop. */
  readonly guardPid: number
  readonly before: {
    readonly links: ReadonlySet<string>
    readonly ipForward: string
    readonly bridgeNf: ReadonlyArray<string>
    readonly filter: ReturnType<typeof iptablesState>
    readonly nat: ReturnType<typeof iptablesState>
  }
}

type Tables = ReturnType<typeof iptablesState>
const tablesToJson = (t: Tables) => ({ chains: [...t.chains], rules: [...t.rules], policy: t.policy })
const tablesFromJson = (t: ReturnType<typeof tablesToJson>): Tables => ({ chains: new Set(t.chains), rules: new Set(t.rules), policy: t.policy })

const toJson = (state: State) =>
  JSON.stringify({
    ...state,
    before: { ...state.before, links: [...state.before.links], filter: tablesToJson(state.before.filter), nat: tablesToJson(state.before.nat) }
  })

const fromJson = (text: string): State => {
  const s = JSON.parse(text)
  return { ...s, before: { ...s.before, links: new Set(s.before.links), filter: tablesFromJson(s.before.filter), nat: tablesFromJson(s.before.nat) } }
}

const stop = (state: State) => {
  // The guard is not needed any more (when it is the one stopping, this is its own pid: it does not signal itself).
  if (state.guardPid > 0 && state.guardPid !== process.pid && isAlive(state.guardPid)) {
    try {
      process.kill(state.guardPid, "SIGTERM")
    } catch { /* gone */ }
  }
  if (isAlive(state.pid)) {
    try {
      process.kill(state.pid, "SIGTERM")
    } catch { /* gone */ }
    const deadline = Date.now() + 10_000
    while (isAlive(state.pid) && Date.now() < deadline) sleep(100)
    if (isAlive(state.pid)) {
      try {
        process.kill(state.pid, "SIGKILL")
      } catch { /* gone */ }
    }
  }
  // The daemon's containerd (its child) leaves with it; shims of killed containers are ended by the daemon first.
  for (const link of dtLinks()) if (!state.before.links.has(link)) run(["ip", "link", "delete", link])
  if (state.iptables) {
    for (const table of ["filter", "nat"] as const) {
      const now = iptablesState(table)
      const ours = [...now.chains].filter((c) => !state.before[table].chains.has(c) && /^DOCKER/.test(c))
      const mentions = (rule: string) => ours.some((c) => rule.includes(` ${c}`)) || / dt\d-[a-z0-9]+ /.test(rule + " ")
      for (const rule of now.rules) {
        if (!state.before[table].rules.has(rule) && mentions(rule)) {
          run(["sh", "-c", `iptables -w 5 -t ${table} ${rule.replace(/^-A /, "-D ")}`])
        }
      }
      for (const c of ours) run(["iptables", "-w", "5", "-t", table, "-F", c])
      for (const c of ours) run(["iptables", "-w", "5", "-t", table, "-X", c])
      for (const p of state.before[table].policy) run(["sh", "-c", `iptables -w 5 -t ${table} ${p}`])
    }
    NodeFs.writeFileSync("/proc/sys/net/ipv4/ip_forward", state.before.ipForward)
    bridgeNfFiles.forEach((f, i) => {
      try {
        if (NodeFs.existsSync(f)) NodeFs.writeFileSync(f, state.before.bridgeNf[i] ?? "0")
      } catch { /* not writable here: nothing to restore */ }
    })
  }
  // dockerd leaves the host's network namespace bind-mounted under its exec root (netns/default).
  const mounts = NodeFs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(state.execRoot + "/")).sort().reverse()
  for (const m of mounts) run(["umount", "-l", m])
  try {
    NodeFs.rmSync(state.execRoot, { recursive: true, force: true })
  } catch { /* a mount the daemon left: harmless in /tmp */ }
}
