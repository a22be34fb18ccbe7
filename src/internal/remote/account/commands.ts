/**
 * Running commands: `exec`, and `ssh`, `sshOutput`, `sshCapture` derived from it, plus `startProcess`. The rest of
 * the account (daemons, signals, files, tree copies) is built on these. `exec` takes a backend's fast path when it
 * can collect output without Streams, and otherwise reads a started process; both honour the command's timeout.
 */
import { Duration, Effect, Stream } from "effect"
import type * as RA from "../../../RemoteAccount.js"
import * as Shell from "../../../Shell.js"
import { RemoteCommandError, RemoteCommandTimeout, RemoteConnectionError } from "../errors.js"
import * as CommandLine from "./commandLine.js"
import * as Processes from "./processes.js"
import { concatBytes, decode } from "../bytes.js"
import * as ReadableStream from "../readableStream.js"

/** The commands of one account; `exec`'s stdin may also be a readable (tree copies pipe tar through). */
export interface Commands extends Pick<RA.RemoteAccount, "startProcess" | "ssh" | "sshOutput" | "sshCapture"> {
  readonly exec: (
    command: Shell.Command,
    options?: CommandLine.Input
  ) => Effect.Effect<RA.ExecResult, RA.RemoteCommandTimeout | RemoteConnectionError>
}

/**
 * A command run to completion without Streams, for backends that can collect output directly. Running a Stream
 * costs hundreds of fiber operations; for a short command that was most of its time (measured: ~3 ms of CPU
 * per `exec` on the Stream path, a fraction of that here).
 */
const collectFast = (
  identity: RA.Identity,
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
          host: identity.hostname,
          port: identity.port,
          reason: "closed",
          detail: `the command ended (exit ${code}) before it started`
        })
      )
    }
    return { exitCode: code, stdout: decode(out.subarray(newline + 1)), stderr: decode(err) } satisfies RA.ExecResult
  })

/** The failure of a command that outlived its timeout. */
export const timeoutError = (identity: RA.Identity, line: string, timeout: Duration.DurationInput) =>
  new RemoteCommandTimeout({
    host: identity.hostname,
    user: identity.user,
    command: line,
    timeout: Duration.format(Duration.decode(timeout))
  })

const withTimeout = <A, E, R>(
  identity: RA.Identity,
  effect: Effect.Effect<A, E, R>,
  line: string,
  options: CommandLine.Input
): Effect.Effect<A, E | RA.RemoteCommandTimeout, R> =>
  options.timeout === undefined ? effect : effect.pipe(
    Effect.timeoutFail({ duration: options.timeout, onTimeout: () => timeoutError(identity, line, options.timeout!) })
  )

const collect = (stream: Stream.Stream<Uint8Array, RemoteConnectionError>) =>
  Stream.runCollect(stream).pipe(Effect.map((c) => decode(concatBytes(c))))

const exec = (
  backend: RA.Backend,
  self: Commands,
  command: Shell.Command,
  options: CommandLine.Input = {}
): Effect.Effect<RA.ExecResult, RA.RemoteCommandTimeout | RemoteConnectionError> => {
  const id = backend.identity
  const line = Shell.toLine(command)
  const run = Effect.scoped(Effect.gen(function*() {
    const { stdin, wrapped } = yield* CommandLine.prepare(id, line, options)
    const raw = yield* backend.exec(wrapped, stdin)
    const pumps = ReadableStream.pumpsOf<RemoteConnectionError>(raw)
    if (pumps !== undefined) return yield* collectFast(id, raw, pumps)
    const p = yield* Processes.fromRaw(id, self, raw, line)
    return yield* Effect.all({ stdout: collect(p.stdout), stderr: collect(p.stderr), exitCode: p.exitCode }, {
      concurrency: "unbounded"
    })
  }))
  return Effect.suspend(() => {
    const started = Date.now()
    return withTimeout(id, run, line, options).pipe(
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

const check = (identity: RA.Identity, line: string) => (r: RA.ExecResult) =>
  r.exitCode === 0
    ? Effect.succeed(r)
    : Effect.fail(
      new RemoteCommandError({
        host: identity.hostname,
        user: identity.user,
        command: line,
        exitCode: r.exitCode,
        // With stderr merged into stdout the error output is at stdout's end.
        stderr: (r.stderr.trim() === "" ? r.stdout : r.stderr).slice(-Processes.stderrTailBytes)
      })
    )

const sshOutput = (identity: RA.Identity, self: Commands, command: Shell.Command, options: RA.CommandOptions = {}) => {
  const line = Shell.toLine(command)
  return self.exec(line, options).pipe(Effect.flatMap(check(identity, line)), Effect.map((r) => r.stdout))
}

const sshCapture = (
  identity: RA.Identity,
  self: Commands,
  command: Shell.Command,
  options: RA.CommandOptions = {}
): Stream.Stream<string, RA.CommandError> => {
  const line = Shell.toLine(command)
  const lines = Stream.unwrapScoped(
    Effect.map(self.startProcess(line, options), (p) => {
      const exitCheck = Stream.fromEffect(
        Effect.flatMap(p.exitCode, (exitCode) =>
          exitCode === 0 ? Effect.void : Effect.flatMap(p.stderrTail, (stderr) =>
            Effect.fail(new RemoteCommandError({ host: identity.hostname, user: identity.user, command: line, exitCode, stderr }))))
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
  return lines.pipe(Stream.interruptWhen(Effect.zipRight(Effect.sleep(timeout), Effect.fail(timeoutError(identity, line, timeout)))))
}

/**
 * The commands of an account over `backend`. A started process is stopped through these same commands, so they
 * are handed to it as `self`: the one place where the parts refer to each other.
 */
export const make = (backend: RA.Backend): Commands => {
  const id = backend.identity
  const self: Commands = {
    startProcess: (command, options) => Processes.start(backend, self, command, options),
    exec: (command, options) => exec(backend, self, command, options),
    ssh: (command, options) => Effect.asVoid(sshOutput(id, self, command, options)),
    sshOutput: (command, options) => sshOutput(id, self, command, options),
    sshCapture: (command, options) => sshCapture(id, self, command, options)
  }
  return self
}
