import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs/promises"
import * as Net from "node:net"
import * as NodePath from "node:path"
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Option, Schedule } from "effect"
import Mustache from "mustache"
import type * as S from "../../Sshd.js"
import { SshdError } from "./errors.js"
import * as Shell from "../../Shell.js"
import { signal } from "../remote/local/processes.js"
import { filesErrorText, withFiles } from "../shared/files.js"
import { readPackageFile } from "../shared/packageFiles.js"
import * as Release from "../shared/release.js"

// sshd re-execs itself by the path it was started with, so it must be absolute.
const sshdPath = "/usr/sbin/sshd"
const sshKeygenPath = "ssh-keygen"

/** Polling for "is it listening yet": sshd writes its pid file right after it binds. */
const readinessPoll = Schedule.spaced("10 millis")
/** How long sshd gets to start listening. */
const startTimeout = Duration.seconds(10)
/** A picked port can be taken by someone else before sshd binds it: pick again, a few times. */
const portRetry = Schedule.recurs(4)
/** Polling for "have the processes we signalled gone". */
const exitPoll = Schedule.spaced("10 millis")
/** How long TERM gets before KILL, and KILL before we give up waiting. */
const termGrace = Duration.seconds(3)
const killGrace = Duration.seconds(2)
/** An upper bound on the scope's release: a teardown never hangs. */
const releaseTimeout = Duration.seconds(10)
/** How much of sshd's log an error carries. */
const logTailBytes = 4 * 1024

const sshdError = (reason: S.SshdFailure, detail: string, logTail?: string, cause?: unknown) =>
  new SshdError({ reason, detail, ...(logTail === undefined ? {} : { logTail }), ...(cause === undefined ? {} : { cause }) })

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** A step on sshd's own files; its failure is an "io" SshdError that says what was being done, and carries why. */
const io = <A>(what: string, use: (fs: FileSystem.FileSystem) => Effect.Effect<A, PlatformError>) =>
  withFiles(use).pipe(Effect.mapError((e) => sshdError("io", `${what}: ${filesErrorText(e)}`, undefined, e)))

/** Runs a short command to completion. */
const run = (argv: ReadonlyArray<string>) =>
  Effect.async<{ readonly code: number; readonly output: string }, Error>((resume) => {
    const [file, ...args] = argv
    const child = ChildProcess.spawn(file!, args, { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (b: Buffer) => (output += b.toString()))
    child.stderr.on("data", (b: Buffer) => (output += b.toString()))
    child.once("error", (e) => resume(Effect.fail(e)))
    child.once("close", (code) => resume(Effect.succeed({ code: code ?? 255, output })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const exists = (path: string) => withFiles((fs) => fs.exists(path)).pipe(Effect.orElseSucceed(() => false))

/** @internal */
export const generateKeyPair = (path: string): Effect.Effect<S.KeyPair, SshdError> =>
  Effect.gen(function*() {
    yield* io(`cannot create ${NodePath.dirname(path)}`, (fs) => fs.makeDirectory(NodePath.dirname(path), { recursive: true }))
    // ssh-keygen asks before overwriting; a fresh pair is what the caller wants.
    yield* io(`cannot replace ${path}`, (fs) =>
      Effect.all([fs.remove(path, { force: true }), fs.remove(`${path}.pub`, { force: true })], { discard: true }))
    const r = yield* run([sshKeygenPath, "-q", "-t", "ed25519", "-N", "", "-C", "ducktape-effect", "-f", path]).pipe(
      Effect.mapError((e) => sshdError("keygen", `cannot run ssh-keygen: ${e.message}`, undefined, e))
    )
    if (r.code !== 0) return yield* Effect.fail(sshdError("keygen", `ssh-keygen exited with ${r.code}: ${r.output.trim()}`))
    const publicKey = (yield* io(`cannot read ${path}.pub`, (fs) => fs.readFileString(`${path}.pub`))).trim()
    return { privateKeyPath: path, publicKey }
  }).pipe(Effect.withSpan("Sshd.generateKeyPair", { attributes: { path } }))

// ---------------------------------------------------------------------------------------------------------
// Processes by pid
// ---------------------------------------------------------------------------------------------------------

interface ProcInfo {
  readonly pid: number
  readonly ppid: number
  readonly comm: string
  readonly state: string
}

// Read with node:fs, not FileSystem: /proc is scanned in the stop loop's 10 ms polls.
const readProc = async (pid: number): Promise<ProcInfo | undefined> => {
  try {
    const stat = await NodeFs.readFile(`/proc/${pid}/stat`, "utf8")
    // comm is in parentheses and may itself hold spaces or parentheses: split at the last ')'.
    const close = stat.lastIndexOf(")")
    const comm = stat.slice(stat.indexOf("(") + 1, close)
    const [state, ppid] = stat.slice(close + 2).split(" ")
    return { pid, ppid: Number(ppid), comm, state: state ?? "?" }
  } catch {
    return undefined
  }
}

/** A zombie has exited: only its parent's wait is missing. */
const isAlive = (pid: number) => Effect.promise(() => readProc(pid)).pipe(Effect.map((p) => p !== undefined && p.state !== "Z"))

/** The sshd processes below `pid`: per-connection monitors and their privilege-separated children. */
const sshdDescendants = (pid: number) =>
  Effect.promise(async () => {
    const entries = await NodeFs.readdir("/proc").catch(() => [] as Array<string>)
    const all = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readProc(Number(e))))
    const children = new Map<number, Array<ProcInfo>>()
    for (const p of all) {
      if (p === undefined) continue
      const list = children.get(p.ppid) ?? []
      list.push(p)
      children.set(p.ppid, list)
    }
    const found: Array<number> = []
    const visit = (parent: number) => {
      for (const c of children.get(parent) ?? []) {
        // The commands users ran are their business (their scopes kill them); only sshd's own processes go.
        if (c.comm !== "sshd") continue
        found.push(c.pid)
        visit(c.pid)
      }
    }
    visit(pid)
    return found
  })

const allGone = (pids: ReadonlyArray<number>) =>
  Effect.map(Effect.forEach(pids, isAlive), (alive) => !alive.includes(true))

const waitGone = (pids: ReadonlyArray<number>, within: Duration.Duration) =>
  Release.bounded(allGone(pids).pipe(Effect.repeat({ schedule: exitPoll, until: (gone) => gone })), within, () => "still there")
    .pipe(Effect.orElseSucceed(() => false))

/** Stops a listener and the sshd processes under it: TERM, then KILL whatever is left. */
const stopTree = (pid: number) =>
  Effect.gen(function*() {
    const pids = [pid, ...(yield* sshdDescendants(pid))]
    yield* signal(pids, "SIGTERM")
    if (yield* waitGone(pids, termGrace)) return
    yield* Effect.logWarning(`sshd ${pid} ignored TERM; killing ${pids.join(" ")}`)
    yield* signal(pids, "SIGKILL")
    yield* waitGone(pids, killGrace)
  })

// ---------------------------------------------------------------------------------------------------------
// Ports and readiness
// ---------------------------------------------------------------------------------------------------------

/** A port the kernel says is free on `address` now (in this network namespace), or a random high one. */
const candidatePort = (address: string, inNetns: boolean) =>
  inNetns
    ? Effect.sync(() => 20000 + Math.floor(Math.random() * 40000))
    : Effect.async<number>((resume) => {
      const server = Net.createServer()
      server.once("error", () => resume(Effect.sync(() => 20000 + Math.floor(Math.random() * 40000))))
      server.listen(0, address, () => {
        const bound = server.address()
        const port = typeof bound === "object" && bound !== null ? bound.port : 0
        server.close(() => resume(Effect.succeed(port)))
      })
    })

const tcpAccepts = (address: string, port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ host: address, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resume(Effect.succeed(ok))
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    return Effect.sync(() => socket.destroy())
  })

/** Inside a namespace our sockets cannot reach it: ask bash in that namespace to connect. */
const tcpAcceptsIn = (netns: string, address: string, port: number) =>
  run(["ip", "netns", "exec", netns, "/bin/bash", "-c", `exec 3<>/dev/tcp/${address}/${port}`]).pipe(
    Effect.map((r) => r.code === 0),
    Effect.orElseSucceed(() => false)
  )

const hostPort = (address: string, port: number) => (address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`)

const knownHostsName = (address: string, port: number) => (port === 22 ? address : `[${address}]:${port}`)

// ---------------------------------------------------------------------------------------------------------
// Starting and stopping
// ---------------------------------------------------------------------------------------------------------

// The config's text lives in templates/sshd/sshd_config.mustache (with why each setting is there); values are
// written as they are (no escaping: this is a config file, not HTML).
const configText = (o: {
  readonly address: string
  readonly port: number
  readonly hostKey: string
  readonly pidFile: string
  readonly authorizedKeys: string
  readonly env: Readonly<Record<string, string>>
  readonly extra: string | undefined
}) =>
  Mustache.render(readPackageFile("templates/sshd/sshd_config.mustache"), {
    listenAddress: hostPort(o.address, o.port),
    hostKey: o.hostKey,
    pidFile: o.pidFile,
    authorizedKeys: o.authorizedKeys,
    setEnv: Object.entries(o.env).map(([k, v]) => `${k}=${v}`).join(" "),
    extra: o.extra ?? null
  }, {}, { escape: (s: unknown) => String(s) })

const logTail = (logPath: string) =>
  Effect.promise(() =>
    NodeFs.readFile(logPath, "utf8").then((t) => t.slice(-logTailBytes), () => "")
  )

const readPid = (pidFile: string) =>
  Effect.promise(() =>
    NodeFs.readFile(pidFile, "utf8").then((t) => {
      const pid = Number.parseInt(t.trim(), 10)
      return Number.isNaN(pid) ? Option.none<number>() : Option.some(pid)
    }, () => Option.none<number>())
  )

interface Paths {
  readonly dir: string
  readonly config: string
  readonly hostKey: string
  readonly pidFile: string
  readonly authorizedKeys: string
  readonly log: string
}

/** Launches sshd in the foreground (`-D`) so a failure to start is its exit, then waits until it listens. */
const launch = (options: S.SshdOptions, paths: Paths, port: number) =>
  Effect.gen(function*() {
    yield* io(`cannot write ${paths.config}`, (fs) =>
      fs.writeFileString(
        paths.config,
        configText({
          address: options.address,
          port,
          hostKey: paths.hostKey,
          pidFile: paths.pidFile,
          authorizedKeys: paths.authorizedKeys,
          env: { ...options.env, HOME: options.home ?? options.dir },
          extra: options.extraConfig
        })
      ))
    yield* io(`cannot remove ${paths.pidFile}`, (fs) => fs.remove(paths.pidFile, { force: true }))
    yield* io(`cannot truncate ${paths.log}`, (fs) => fs.writeFileString(paths.log, ""))
    const argv = [
      ...(options.dieWithParent === true ? ["setpriv", "--pdeathsig", "TERM", "--"] : []),
      ...(options.netns === undefined ? [] : ["ip", "netns", "exec", options.netns]),
      ...(options.wrap ?? []),
      sshdPath,
      "-D",
      "-f",
      paths.config,
      "-E",
      paths.log
    ]
    const exited = yield* Deferred.make<string>()
    const spawn = Effect.try({
      try: () => {
        // detached: its own session, so it does not get our terminal's signals and outlives nothing of ours.
        const c = ChildProcess.spawn(argv[0]!, argv.slice(1), { stdio: "ignore", detached: true })
        c.once("error", (e) => Deferred.unsafeDone(exited, Effect.succeed(`cannot run ${argv[0]}: ${e.message}`)))
        c.once("exit", (code, sig) =>
          Deferred.unsafeDone(exited, Effect.succeed(`it exited with ${sig ?? code} before it listened`)))
        c.unref()
        return c
      },
      catch: (e) => sshdError("start-failed", `cannot run ${Shell.join(argv)}: ${describe(e)}`, undefined, e)
    })

    const ready = Effect.gen(function*() {
      const pid = yield* readPid(paths.pidFile)
      if (Option.isNone(pid)) return Option.none<number>()
      const accepts = options.netns === undefined
        ? yield* tcpAccepts(options.address, port)
        : yield* tcpAcceptsIn(options.netns, options.address, port)
      return accepts ? pid : Option.none<number>()
    })
    const failed = Effect.flatMap(Deferred.await(exited), (why) =>
      Effect.flatMap(logTail(paths.log), (tail) =>
        Effect.fail(
          /Address already in use|Cannot bind any address/.test(tail)
            ? sshdError("port-in-use", `cannot listen on ${hostPort(options.address, port)}`, tail)
            : sshdError("start-failed", `${Shell.join(argv)}: ${why}`, tail)
        )))
    // Interruptible even when `start` runs as an acquire step (uninterruptible): the race must be able to stop its
    // loser and the timeout must be able to fire, or a server that never listens hangs the caller forever.
    const listening = ready.pipe(
      Effect.repeat(Schedule.recurUntil(Option.isSome<number>).pipe(Schedule.intersect(readinessPoll))),
      Effect.flatMap(([found]) => found),
      Effect.orDie,
      Effect.raceFirst(failed),
      Effect.interruptible,
      Effect.timeoutFail({
        duration: startTimeout,
        onTimeout: () => sshdError("timeout", `not listening on ${hostPort(options.address, port)} after ${Duration.format(startTimeout)}`)
      }),
      Effect.catchTag("SshdError", (e) =>
        e.reason === "timeout" ? Effect.flatMap(logTail(paths.log), (tail) => Effect.fail(sshdError(e.reason, e.detail, tail))) : Effect.fail(e))
    )
    // Between spawning and listening, a failure or an interruption must not leave a half-started server behind.
    const pid = yield* Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(spawn, (child) =>
        restore(Effect.zipRight(Effect.logDebug(`starting ${Shell.join(argv)}`), listening)).pipe(
          Effect.onError(() =>
            Effect.flatMap(readPid(paths.pidFile), (p) =>
              child.pid === undefined ? Effect.void : stopTree(Option.getOrElse(p, () => child.pid!)))
          )
        ))
    )
    return pid
  })

/** @internal */
export const start = (options: S.SshdOptions): Effect.Effect<S.SshdHandle, SshdError, Scope.Scope> =>
  Effect.gen(function*() {
    if (!(yield* exists(sshdPath))) {
      return yield* Effect.fail(sshdError("missing", `${sshdPath} not found`))
    }
    const dir = NodePath.resolve(options.dir)
    const paths: Paths = {
      dir,
      config: NodePath.join(dir, "sshd_config"),
      hostKey: NodePath.join(dir, "ssh_host_ed25519_key"),
      pidFile: NodePath.join(dir, "sshd.pid"),
      authorizedKeys: NodePath.join(dir, "authorized_keys"),
      log: NodePath.join(dir, "sshd.log")
    }
    yield* io(`cannot create ${dir}`, (fs) => fs.makeDirectory(dir, { recursive: true }))
    // sshd's privilege separation needs it; Debian creates it only when its own sshd starts.
    yield* io("cannot create /run/sshd", (fs) => fs.makeDirectory("/run/sshd", { recursive: true, mode: 0o755 }))
    // Reusing the key keeps a restarted server's known_hosts line valid.
    const hostPublicKey = (yield* exists(`${paths.hostKey}.pub`))
      ? (yield* io(`cannot read ${paths.hostKey}.pub`, (fs) => fs.readFileString(`${paths.hostKey}.pub`))).trim()
      : (yield* generateKeyPair(paths.hostKey)).publicKey
    yield* io(`cannot write ${paths.authorizedKeys}`, (fs) =>
      fs.writeFileString(paths.authorizedKeys, options.authorizedKeys.map((k) => k.trim()).join("\n") + "\n", { mode: 0o600 }))

    const fixedPort = options.port !== undefined && options.port > 0
    const first = yield* Effect.retry(
      Effect.gen(function*() {
        const port = fixedPort ? options.port! : yield* candidatePort(options.address, options.netns !== undefined)
        const pid = yield* launch(options, paths, port)
        return { port, pid }
      }),
      { schedule: portRetry, while: (e) => !fixedPort && e.reason === "port-in-use" }
    )
    const port = first.port
    let pid: number | undefined = first.pid
    let lastPid = first.pid
    const lock = yield* Effect.makeSemaphore(1)

    const stopNow = Effect.suspend(() => {
      const current = pid
      if (current === undefined) return Effect.void
      return stopTree(current).pipe(
        Effect.tap(() => Effect.logDebug(`stopped sshd ${current} on ${hostPort(options.address, port)}`)),
        Effect.ensuring(Effect.sync(() => (pid = undefined)))
      )
    })
    const stop = lock.withPermits(1)(stopNow)
    const restart = lock.withPermits(1)(
      Effect.zipRight(
        stopNow,
        Effect.flatMap(launch(options, paths, port), (p) =>
          Effect.sync(() => {
            pid = p
            lastPid = p
          }))
      )
    )
    yield* Effect.addFinalizer(() => stop.pipe(Effect.timeout(releaseTimeout), Effect.ignore))

    const keyFields = hostPublicKey.split(/\s+/).slice(0, 2).join(" ")
    const handle: S.SshdHandle = {
      address: options.address,
      port,
      get pid() {
        return pid ?? lastPid
      },
      dir,
      configPath: paths.config,
      logPath: paths.log,
      hostPublicKey,
      knownHostsLine: `${knownHostsName(options.address, port)} ${keyFields}`,
      stop,
      restart
    }
    yield* Effect.logDebug(`sshd ${first.pid} listening on ${hostPort(options.address, port)}`)
    return handle
  }).pipe(Effect.withSpan("Sshd.start", { attributes: { address: options.address, dir: options.dir } }))
