import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { Readable } from "node:stream"
import { Chunk, Duration, Effect, FiberRef, Option, Queue, Ref, Schedule, Stream } from "effect"
import type * as RA from "../../RemoteAccount.js"
import { RemoteCommandError, RemoteCommandTimeout, RemoteConnectionError, RemoteFileError } from "./errors.js"
import * as Shell from "../../Shell.js"
import * as DaemonExit from "./daemonExit.js"
import * as logMonitor from "./logMonitor.js"
import { isProcessId, pidLinePrefix } from "./pid.js"
import * as Release from "../shared/release.js"
import * as ReadableStream from "./readableStream.js"
import * as TreeCopy from "./treeCopy.js"
import * as Wait from "../../Wait.js"

/** How long a started command may take to report its pid (the first thing it does). */
const pidTimeout = Duration.seconds(30)
/** How long starting a daemon may take (it only forks and prints a pid). */
const daemonStartTimeout = Duration.seconds(60)
/** An upper bound on a process release, so that a teardown can never hang on a dead connection. */
const releaseTimeout = Duration.seconds(10)
/** How much stderr an error message carries. */
const stderrTailBytes = 8 * 1024

/** `kill`'s argument for the process group led by `pid`; anything but a real pid is refused (see isProcessId). */
const groupOf = (pid: number): Effect.Effect<string> =>
  isProcessId(pid)
    ? Effect.succeed(`-${pid}`)
    : Effect.dieMessage(`refusing to signal process group ${pid}: not the pid of a process this account started`)

/** How often a stopping process group is checked for exit. */
const groupExitPoll = Schedule.spaced("50 millis")

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Command options as the account uses them inside: stdin may also be a readable (tree copies pipe tar through). */
type Input = Omit<RA.CommandOptions, "stdin"> & { readonly stdin?: string | Uint8Array | Readable }

const encoder = new TextEncoder()

const concatBytes = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => {
  let length = 0
  for (const c of chunks) length += c.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** The environment variable that marks every process the framework starts with its session. */
export const labelVariable = "DUCKTAPE_SESSION"

/** The environment variable marking what a service's node start runs (see internal/service.ts's stopLeftovers). */
export const serviceVariable = "DUCKTAPE_SERVICE"

/** The session label of commands run by the current fiber (set by the runner for each test). */
export const currentLabel: FiberRef.FiberRef<string | undefined> = FiberRef.unsafeMake<string | undefined>(undefined)

/** Environment every command of the current fiber gets, under its own `env` (e.g. --enable-jvm-logs' JVM options). */
export const ambientEnv: FiberRef.FiberRef<Readonly<Record<string, string>>> = FiberRef.unsafeMake<Readonly<Record<string, string>>>({})

/**
 * The line every command is wrapped in: print our pid (the session and process-group leader), go to the working
 * directory, then `exec` the user's line so that pid stays the one that runs it.
 */
const wrap = (line: string, cwd: string, options: Input, label: string | undefined, ambient: Readonly<Record<string, string>>): string => {
  const env = Object.entries({ ...ambient, ...options.env, ...(label === undefined ? {} : { [labelVariable]: label }) })
    .map(([k, v]) => `${k}=${v}`)
  const envPart = env.length > 0 ? `env ${Shell.join(env)} ` : ""
  const redirect = options.mergeStderr === true ? " 2>&1" : ""
  return `${pidLinePrefix}cd ${Shell.quote(cwd)} && exec ${envPart}/bin/sh -c ${Shell.quote(line)}${redirect}`
}

/** Splits the first line (our pid) off a byte stream, returning it and the rest of the stream. */
const splitPid = (
  raw: RA.RawProcess,
  host: string,
  port: number
) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(raw.stdout)
    let buffered: Uint8Array = new Uint8Array(0)
    for (;;) {
      const chunk = yield* pull.pipe(
        Effect.catchAll(Option.match({
          // No pid line: the process could not start (the backend's own error is in its exit), or the channel died.
          onNone: () =>
            Effect.flatMap(raw.exitCode, (code) =>
              Effect.fail(
                new RemoteConnectionError({ host, port, reason: "closed", detail: `the command ended (exit ${code}) before it started` })
              )),
          onSome: Effect.fail
        }))
      )
      buffered = concatBytes(Chunk.prepend(chunk, buffered))
      const newline = buffered.indexOf(10)
      if (newline >= 0) {
        const pid = Number.parseInt(decode(buffered.subarray(0, newline)), 10)
        const rest = buffered.subarray(newline + 1)
        const remaining = Stream.repeatEffectChunkOption(pull)
        return {
          pid,
          stdout: rest.length > 0 ? Stream.concat(Stream.make(rest), remaining) : remaining
        } as const
      }
    }
  })

/** How long one try of waitForHttp may take. */
const httpTryTimeout = 5_000

/** What a failed fetch says, down to its cause (ECONNREFUSED, a timeout…). */
const describeFetchError = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  if (e.name === "TimeoutError") return `no answer within ${httpTryTimeout / 1000}s`
  const cause = (e as { cause?: unknown }).cause
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message
}

/** @internal */
export const make = (backend: RA.Backend): RA.RemoteAccount => {
  const id = backend.identity
  const label = `${id.user}@${id.hostname}`
  const resolve = (path: string) => NodePath.posix.resolve(id.workdir, path)

  /** The wrapped line and stdin bytes of a command; an invalid env name is a defect of the caller. */
  const prepare = (line: string, options: Input) =>
    Effect.flatMap(Effect.zip(FiberRef.get(currentLabel), FiberRef.get(ambientEnv)), ([sessionLabel, ambient]) => {
      const badName = Object.keys(options.env ?? {}).find((k) => !envName.test(k))
      if (badName !== undefined) {
        return Effect.dieMessage(`env: ${JSON.stringify(badName)} is not a valid environment variable name`)
      }
      const stdin = options.stdin === undefined
        ? undefined
        : typeof options.stdin === "string"
        ? encoder.encode(options.stdin)
        : options.stdin
      return Effect.succeed({ wrapped: wrap(line, resolve(options.cwd ?? "."), options, sessionLabel, ambient), stdin })
    })

  /** The release of a process still running when its scope closes: its group is stopped, TERM then KILL. */
  const stopGroup = (pid: number, exitCode: Effect.Effect<number, RemoteConnectionError>, line: string) =>
    // A release must not die: a pid line that was not a pid (the command's own output, say) is only reported.
    !isProcessId(pid) ? Effect.logWarning(`cannot stop ${JSON.stringify(line)}: its pid line said ${JSON.stringify(String(pid))}`) : Effect.gen(function*() {
      yield* Effect.logDebug(`stopping process group ${pid} of ${JSON.stringify(line)}`)
      const group = yield* groupOf(pid)
      yield* Release.termThenKill({
        term: Effect.asVoid(exec(["kill", "-s", "TERM", "--", group], {})),
        kill: Effect.asVoid(exec(["kill", "-s", "KILL", "--", group], {})),
        ended: exitCode,
        grace: Release.killGrace
      })
    }).pipe((release) => Release.bounded(release, releaseTimeout, () => "release timed out"), Effect.ignore)

  const startProcess = (command: Shell.Command, options: RA.CommandOptions = {}) => {
    const line = Shell.toLine(command)
    // Once the command runs, an interruption must wait until its pid is known and its kill-on-release registered:
    // without a pid nothing could stop it (without a pty it survives its channel).
    return Effect.flatMap(prepare(line, options), ({ stdin, wrapped }) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(backend.exec(wrapped, stdin)), (raw) => startProcessFrom(raw, line))
      ))
  }

  /** A started backend process as a `RemoteProcess`: its pid read, stderr drained, its group stopped on release. */
  const startProcessFrom = (raw: RA.RawProcess, line: string) =>
    Effect.gen(function*() {
      const { pid, stdout } = yield* Release.bounded(splitPid(raw, id.hostname, id.port), pidTimeout, () =>
        new RemoteConnectionError({ host: id.hostname, port: id.port, reason: "timeout", detail: `no pid from the command within ${Duration.format(pidTimeout)}` }))
      const exited = yield* Ref.make(false)

      // stderr is drained eagerly into a queue plus a tail buffer: nobody has to read it for the command to make
      // progress, and error messages can always show its end.
      const tail = yield* Ref.make("")
      // Sliding: unread error output keeps its latest chunks (up to ~8 MiB over ssh), never all of a long run's.
      const stderrQueue = yield* Queue.sliding<Uint8Array | null>(256)
      yield* raw.stderr.pipe(
        Stream.runForEach((bytes) =>
          Ref.update(tail, (t) => (t + decode(bytes)).slice(-stderrTailBytes)).pipe(
            Effect.zipRight(Queue.offer(stderrQueue, bytes))
          )
        ),
        Effect.ignore,
        Effect.ensuring(Queue.offer(stderrQueue, null)),
        Effect.forkScoped
      )
      const stderr = Stream.fromQueue(stderrQueue).pipe(
        Stream.takeWhile((b): b is Uint8Array => b !== null)
      )

      const exitCode = raw.exitCode.pipe(Effect.tap(() => Ref.set(exited, true)))
      const kill = (signal: RA.Signal = "TERM") => Effect.flatMap(groupOf(pid), (group) => ssh(["kill", "-s", signal, "--", group], {}))

      yield* Effect.addFinalizer(() =>
        Effect.flatMap(Ref.get(exited), (done) => (done ? Effect.void : stopGroup(pid, exitCode, line)))
      )
      return {
        pid,
        command: line,
        stdout,
        stderr,
        exitCode,
        stderrTail: Ref.get(tail),
        kill: (signal?: RA.Signal) => kill(signal)
      } satisfies RA.RemoteProcess
    }).pipe(Effect.annotateLogs({ host: id.hostname }))

  /**
   * A command run to completion without Streams, for backends that can collect output directly. Running a Stream
   * costs hundreds of fiber operations; for a short command that was most of its time (measured: ~3 ms of CPU
   * per `exec` on the Stream path, a fraction of that here).
   */
  const collectFast = (
    raw: RA.RawProcess,
    pumps: { readonly stdout: ReadableStream.Pump<RemoteConnectionError>; readonly stderr: ReadableStream.Pump<RemoteConnectionError> }
  ) =>
    Effect.gen(function*() {
      // Stopped early (a timeout, an interruption), the command is stopped by the backend's release, which knows
      // its pid even when the pid line has not come yet.
      // stderr must not pause while stdout is collected, or a chatty command would block and stdout never end.
      pumps.stderr.unbound()
      const out = yield* pumps.stdout.collect
      const err = yield* pumps.stderr.collect
      const code = yield* raw.exitCode
      const newline = out.indexOf(10)
      if (newline < 0) {
        return yield* Effect.fail(
          new RemoteConnectionError({
            host: id.hostname,
            port: id.port,
            reason: "closed",
            detail: `the command ended (exit ${code}) before it started`
          })
        )
      }
      return { exitCode: code, stdout: decode(out.subarray(newline + 1)), stderr: decode(err) } satisfies RA.ExecResult
    })

  const timeoutError = (line: string, timeout: Duration.DurationInput) =>
    new RemoteCommandTimeout({
      host: id.hostname,
      user: id.user,
      command: line,
      timeout: Duration.format(Duration.decode(timeout))
    })

  const withTimeout = <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    line: string,
    options: Input
  ): Effect.Effect<A, E | RA.RemoteCommandTimeout, R> =>
    options.timeout === undefined ? effect : effect.pipe(
      Effect.timeoutFail({ duration: options.timeout, onTimeout: () => timeoutError(line, options.timeout!) })
    )

  const collect = (stream: Stream.Stream<Uint8Array, RemoteConnectionError>) =>
    Stream.runCollect(stream).pipe(Effect.map((c) => decode(concatBytes(c))))

  const exec = (command: Shell.Command, options: Input = {}): Effect.Effect<RA.ExecResult, RA.RemoteCommandTimeout | RemoteConnectionError> => {
    const line = Shell.toLine(command)
    const run = Effect.scoped(Effect.gen(function*() {
      const { stdin, wrapped } = yield* prepare(line, options)
      const raw = yield* backend.exec(wrapped, stdin)
      const pumps = ReadableStream.pumpsOf<RemoteConnectionError>(raw)
      if (pumps !== undefined) return yield* collectFast(raw, pumps)
      const p = yield* startProcessFrom(raw, line)
      return yield* Effect.all({ stdout: collect(p.stdout), stderr: collect(p.stderr), exitCode: p.exitCode }, {
        concurrency: "unbounded"
      })
    }))
    return Effect.suspend(() => {
      const started = Date.now()
      return withTimeout(run, line, options).pipe(
        Effect.tap((r) =>
          Effect.logDebug(`ran ${JSON.stringify(line)} → ${r.exitCode}`).pipe(
            Effect.annotateLogs({ host: id.hostname, ms: Date.now() - started })
          )
        )
      )
    }).pipe(
      // The span's call site would be this file (every command starts here), and capturing it costs a stack trace.
      Effect.withSpan("RemoteAccount.exec", { attributes: { host: id.hostname, command: line }, captureStackTrace: false })
    )
  }

  const check = (line: string) => (r: RA.ExecResult) =>
    r.exitCode === 0
      ? Effect.succeed(r)
      : Effect.fail(
        new RemoteCommandError({
          host: id.hostname,
          user: id.user,
          command: line,
          exitCode: r.exitCode,
          // With stderr merged into stdout the error output is at stdout's end.
          stderr: (r.stderr.trim() === "" ? r.stdout : r.stderr).slice(-stderrTailBytes)
        })
      )

  const sshOutput = (command: Shell.Command, options: RA.CommandOptions = {}) => {
    const line = Shell.toLine(command)
    return exec(line, options).pipe(Effect.flatMap(check(line)), Effect.map((r) => r.stdout))
  }
  const ssh = (command: Shell.Command, options: RA.CommandOptions = {}) => Effect.asVoid(sshOutput(command, options))

  const sshCapture = (command: Shell.Command, options: RA.CommandOptions = {}): Stream.Stream<string, RA.CommandError> => {
    const line = Shell.toLine(command)
    const lines = Stream.unwrapScoped(
      Effect.map(startProcess(line, options), (p) => {
        const exitCheck = Stream.fromEffect(
          Effect.flatMap(p.exitCode, (exitCode) =>
            exitCode === 0 ? Effect.void : Effect.flatMap(p.stderrTail, (stderr) =>
              Effect.fail(new RemoteCommandError({ host: id.hostname, user: id.user, command: line, exitCode, stderr }))))
        ).pipe(Stream.drain)
        return Stream.concat(
          p.stdout.pipe(Stream.decodeText(), Stream.splitLines) as Stream.Stream<string, RA.CommandError>,
          exitCheck
        )
      })
    )
    if (options.timeout === undefined) return lines
    const timeout = options.timeout
    // interruptWhen with a failing effect fails the stream, and the scope close kills the process group.
    return lines.pipe(Stream.interruptWhen(Effect.zipRight(Effect.sleep(timeout), Effect.fail(timeoutError(line, timeout)))))
  }

  const pids = (pattern: string) =>
    Effect.gen(function*() {
      // pgrep excludes itself but not the shell that runs it, whose command line also holds the pattern.
      const r = yield* exec(`pgrep -f -- ${Shell.quote(pattern)}; echo "self $$"`)
      const out = r.stdout.trim().split("\n")
      const self = out.find((l) => l.startsWith("self "))
      const selfPid = self === undefined ? -1 : Number.parseInt(self.slice(5), 10)
      return out.filter((l) => /^\d+$/.test(l)).map(Number).filter((p) => p !== selfPid)
    })

  const spawnDaemon = (
    command: Shell.Command,
    options: RA.CommandOptions & { readonly logFile?: string; readonly pidFile?: string } = {}
  ) => {
    const log = options.logFile === undefined ? "/dev/null" : resolve(options.logFile)
    // The pid file is written by the same remote command, so a daemon is never running without it.
    const pidFile = options.pidFile === undefined ? undefined : resolve(options.pidFile)
    // setsid: the daemon leads its own session and process group, so it outlives this channel and can be stopped
    // as a group; `$!` is its pid because a background job of a non-interactive shell is no group leader. A watcher
    // shell (outside that group) reaps it and keeps its exit status for `waitUntil(…, { whileAlive })`.
    const line = DaemonExit.spawnLine(Shell.toLine(command), log, pidFile, [labelVariable, serviceVariable])
    // Interrupted half-way, the daemon would run on with a pid nobody learnt: finish (within a bound), and if the
    // caller was interrupted meanwhile, stop the daemon again — an interrupted start leaves nothing running.
    return Effect.uninterruptibleMask((restore) =>
      Release.bounded(sshOutput(line, options), daemonStartTimeout, () => timeoutError(line, daemonStartTimeout)).pipe(
        Effect.map((out) => Number.parseInt(out.trim(), 10)),
        Effect.flatMap((pid) =>
          restore(Effect.succeed(pid)).pipe(
            Effect.onInterrupt(() =>
              !isProcessId(pid) ? Effect.void : Effect.zipRight(
                killProcessGroup(pid, { grace: Release.killGrace }),
                // A pid file left behind would name a pid that may belong to someone else later.
                options.pidFile === undefined ? Effect.void : exec(["rm", "-f", "--", resolve(options.pidFile)])
              ).pipe((stop) => Release.bounded(stop, releaseTimeout, () => "gave up"), Effect.ignore)
            )
          )
        )
      )
    )
  }

  // Zombies count as gone: on some machines init reaps orphans a second or more late, and `kill -0` still finds them.
  const groupAlive = (pid: number) =>
    Effect.map(
      exec(`ps -e -o pgid=,stat= | awk -v g=${pid} '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'`),
      (r) => r.exitCode === 0
    )
  const killProcessGroup = (pid: number, options: { readonly grace?: Duration.DurationInput } = {}) =>
    Effect.gen(function*() {
      const group = yield* groupOf(pid)
      yield* Release.termThenKill({
        // A group already gone makes `kill` fail: nothing to report.
        term: Effect.asVoid(exec(["kill", "-s", "TERM", "--", group])),
        kill: Effect.asVoid(exec(["kill", "-s", "KILL", "--", group])),
        ended: Effect.repeat(groupAlive(pid), { schedule: groupExitPoll, while: (alive) => alive }),
        grace: options.grace ?? "5 seconds"
      })
    })

  // A zombie has exited; `kill -0` still finds it until its parent reaps it, which for an orphan is init's call
  // (seconds on some machines). Its state in /proc tells.
  const alive = (pid: number) =>
    Effect.map(
      exec(
        `kill -0 ${pid} 2>/dev/null && ! { s=$(cat /proc/${pid}/stat 2>/dev/null) && s=\${s##*) } && [ "\${s%% *}" = Z ]; }`
      ),
      (r) => r.exitCode === 0
    )
  const signal = (pid: number, sig: RA.Signal) =>
    isProcessId(pid)
      ? ssh(["kill", "-s", sig, String(pid)])
      : Effect.dieMessage(`refusing to signal ${pid}: give the pid of one process (not 0, 1 or a negative group)`)
  const killProcess = (pattern: string, options: { readonly clean?: boolean } = {}) =>
    Effect.gen(function*() {
      const found = yield* pids(pattern)
      const sig: RA.Signal = options.clean === false ? "KILL" : "TERM"
      // A process may exit between pgrep and kill; that is not an error.
      yield* Effect.forEach(found.filter(isProcessId), (p) => exec(["kill", "-s", sig, String(p)]), { discard: true })
      return found
    })

  const fileError = (path: string, reason: string) => new RemoteFileError({ host: id.hostname, path, reason })

  const statOf = (path: string, follow: boolean) => backend.stat(resolve(path), follow)

  // Trees go as one tar stream where the backend prefers it and both ends have GNU tar (asked at the first tree).
  let tarUsable: boolean | undefined = backend.copiesTreesAsTar === true ? undefined : false
  const treesAsTar: Effect.Effect<boolean, RemoteConnectionError> = Effect.suspend(() =>
    tarUsable !== undefined ? Effect.succeed(tarUsable) : TreeCopy.usable(tarRemote).pipe(
      Effect.tap((ok) => ok ? Effect.void : Effect.logDebug("no GNU tar on one end: copying trees file by file")),
      Effect.tap((ok) => Effect.sync(() => (tarUsable = ok)))
    )
  )
  const tarRemote: TreeCopy.Remote = { hostname: id.hostname, exec: (c, o) => exec(c, o), startProcess: (c, o) => startProcess(c, o) }
  const viaTar = (
    copy: Effect.Effect<void, RemoteFileError | RemoteConnectionError>,
    byFiles: Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  ) => Effect.flatMap(treesAsTar, (tar) => (tar ? copy : byFiles))

  /** Whether a local path is a directory, following links. */
  const localIsDir = (localPath: string) =>
    Effect.tryPromise({
      try: () => NodeFs.stat(localPath).then((info) => info.isDirectory()),
      catch: () => fileError(localPath, `local path ${localPath} does not exist`)
    })

  /**
   * Copies a local file or tree whose kind may already be known from its directory listing (`undefined`: stat it,
   * following links). One stat fewer per file, and one span per call rather than per file: with many small files
   * that bookkeeping was a large part of the client's CPU.
   */
  const copyPathTo = (
    localPath: string,
    target: string,
    isDir: boolean | undefined
  ): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
    Effect.flatMap(
      isDir !== undefined ? Effect.succeed(isDir) : localIsDir(localPath),
      (dir) => (dir ? copyTreeByFilesTo(localPath, target) : backend.upload(localPath, target))
    )

  const copyTreeByFilesTo = (localPath: string, target: string) =>
    Effect.zipRight(
      backend.mkdir(target),
      Effect.flatMap(Effect.promise(() => NodeFs.readdir(localPath, { withFileTypes: true })), (entries) =>
        Effect.forEach(
          entries,
          (e) =>
            copyPathTo(
              NodePath.join(localPath, e.name),
              NodePath.posix.join(target, e.name),
              // A link (or anything else) is stat'ed, so a link to a directory is copied as one.
              e.isDirectory() ? true : e.isFile() ? false : undefined
            ),
          { concurrency: backend.transferConcurrency, discard: true }
        ))
    )

  const copyTo = (localPath: string, remotePath: string): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
    Effect.gen(function*() {
      const target = resolve(remotePath)
      if (!(yield* localIsDir(localPath))) return yield* backend.upload(localPath, target)
      yield* viaTar(TreeCopy.send(tarRemote, localPath, target), copyTreeByFilesTo(localPath, target))
    }).pipe(
      Effect.withSpan("RemoteAccount.copyTo", { attributes: { host: id.hostname, path: remotePath } })
    )

  /** A remote path's stat, following links; a missing path is a RemoteFileError. */
  const statExisting = (source: string) =>
    Effect.flatMap(backend.stat(source, true), Option.match({
      onNone: () => Effect.fail(fileError(source, "no such file or directory")),
      onSome: Effect.succeed
    }))

  /** Copies a remote file or tree whose stat is already known, file by file. */
  const copyStatedFrom = (
    source: string,
    info: RA.FileInfo,
    localPath: string
  ): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
    Effect.gen(function*() {
      if (info.type === "dir") {
        yield* Effect.promise(() => NodeFs.mkdir(localPath, { recursive: true }))
        const entries = yield* backend.readDir(source)
        yield* Effect.forEach(
          entries,
          (e) => copyPathFrom(NodePath.posix.join(source, e), NodePath.join(localPath, e)),
          { concurrency: backend.transferConcurrency, discard: true }
        )
      } else {
        yield* Effect.promise(() => NodeFs.mkdir(NodePath.dirname(localPath), { recursive: true }))
        yield* backend.download(source, localPath)
        // The mode travels with the file, as it does on the way up (SFTP downloads create files 0666 & ~umask).
        yield* Effect.tryPromise({ try: () => NodeFs.chmod(localPath, info.mode), catch: () => fileError(localPath, `cannot set mode of local ${localPath}`) })
      }
    })

  const copyPathFrom = (source: string, localPath: string): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
    Effect.flatMap(statExisting(source), (info) => copyStatedFrom(source, info, localPath))

  const copyFrom = (remotePath: string, localPath: string): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
    Effect.gen(function*() {
      const source = resolve(remotePath)
      const info = yield* statExisting(source)
      const byFiles = copyStatedFrom(source, info, localPath)
      yield* info.type === "dir" ? viaTar(TreeCopy.receive(tarRemote, source, localPath), byFiles) : byFiles
    }).pipe(
      Effect.withSpan("RemoteAccount.copyFrom", { attributes: { host: id.hostname, path: remotePath } })
    )

  const copyBetween = (remotePath: string, destination: RA.RemoteAccount, destinationPath: string) =>
    Effect.acquireUseRelease(
      Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), "ducktape-copy-"))),
      (dir) => {
        const staged = NodePath.join(dir, "item")
        return Effect.zipRight(copyFrom(remotePath, staged), destination.copyTo(staged, destinationPath))
      },
      (dir) => Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
    )

  const account: RA.RemoteAccount = {
    ...id,
    backend,
    label,
    resolve,
    startProcess,
    exec,
    ssh,
    sshOutput,
    sshCapture,
    spawnDaemon,
    killProcessGroup,
    pids,
    alive,
    signal,
    killProcess,
    createFile: (path, contents) =>
      backend.writeFile(resolve(path), typeof contents === "string" ? encoder.encode(contents) : contents),
    readFile: (path) => Effect.map(backend.readFile(resolve(path)), decode),
    copyTo,
    copyFrom,
    copyBetween,
    // From `/`: commands start in the workdir, which may be the very directory being made (or removed).
    mkdirs: (path) => ssh(["mkdir", "-p", "--", resolve(path)], { cwd: "/" }),
    remove: (path, options = {}) => ssh(["rm", options.force === true ? "-rf" : "-r", "--", resolve(path)], { cwd: "/" }),
    exists: (path) => Effect.map(statOf(path, false), Option.isSome),
    isFile: (path) => Effect.map(statOf(path, true), (i) => Option.isSome(i) && i.value.type === "file"),
    isDir: (path) => Effect.map(statOf(path, true), (i) => Option.isSome(i) && i.value.type === "dir"),
    isLink: (path) => Effect.map(statOf(path, false), (i) => Option.isSome(i) && i.value.type === "link"),
    monitorLog: (path, options) => logMonitor.make(account, path, options),
    waitForHttp: (port, options = {}) => {
      const url = `http://${id.externallyRoutableIp.includes(":") ? `[${id.externallyRoutableIp}]` : id.externallyRoutableIp}:${port}${options.path ?? "/"}`
      const tryOnce = Effect.tryPromise({
        // Aborted by an interruption as well as by its own time limit.
        try: (interrupted) =>
          fetch(url, {
            ...(options.headers === undefined ? {} : { headers: options.headers }),
            signal: AbortSignal.any([interrupted, AbortSignal.timeout(httpTryTimeout)])
          }),
        catch: (e) => new Error(describeFetchError(e))
      }).pipe(
        Effect.flatMap((response) => {
          // The body is not wanted; a body that failed must not surface as an unhandled rejection.
          response.body?.cancel().catch(() => {})
          return response.ok ? Effect.succeed(true) : Effect.fail(new Error(`status ${response.status}`))
        })
      )
      return Wait.waitUntil(tryOnce, {
        timeout: options.timeout ?? "60 seconds",
        backoff: "250 millis",
        retryOnError: true,
        errMsg: `nothing answered ${url} with a 2xx status`
      })
    }
  }
  return account
}
