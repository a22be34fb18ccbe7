/**
 * A started command as a scoped `RemoteProcess`. Without a pty a remote process survives its channel, so the pid
 * the command prints first is what lets anything stop it: this module reads it, drains stderr so nobody has to,
 * and registers the release that stops the process group if the command still runs when its scope closes.
 * Stopping and signalling run through the account's own commands, which are passed in (they are built on this).
 */
import { Chunk, Duration, Effect, Option, Queue, Ref, Stream } from "effect"
import type * as RA from "../../../RemoteAccount.js"
import * as Shell from "../../../Shell.js"
import { RemoteConnectionError } from "../errors.js"
import * as CommandLine from "./commandLine.js"
import { concatBytes, decode } from "../bytes.js"
import { groupOf, isProcessId } from "../pid.js"
import * as Release from "../../shared/release.js"

/** How long a started command may take to report its pid (the first thing it does). */
const pidTimeout = Duration.seconds(30)
/** An upper bound on a process release, so that a teardown can never hang on a dead connection. */
export const releaseTimeout = Duration.seconds(10)
/** How much stderr an error message carries. */
export const stderrTailBytes = 8 * 1024

/** What stopping a process runs: the account's `exec` (a group already gone is no error) and `ssh` (`kill`). */
export type Signaller = Pick<RA.RemoteAccount, "exec" | "ssh">

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

/** The release of a process still running when its scope closes: its group is stopped, TERM then KILL. */
const stopGroup = (signaller: Signaller, pid: number, exitCode: Effect.Effect<number, RemoteConnectionError>, line: string) =>
  // A release must not die: a pid line that was not a pid (the command's own output, say) is only reported.
  !isProcessId(pid) ? Effect.logWarning(`cannot stop ${JSON.stringify(line)}: its pid line said ${JSON.stringify(String(pid))}`) : Effect.gen(function*() {
    yield* Effect.logDebug(`stopping process group ${pid} of ${JSON.stringify(line)}`)
    const group = yield* groupOf(pid)
    yield* Release.termThenKill({
      term: Effect.asVoid(signaller.exec(["kill", "-s", "TERM", "--", group], {})),
      kill: Effect.asVoid(signaller.exec(["kill", "-s", "KILL", "--", group], {})),
      ended: exitCode,
      grace: Release.killGrace
    })
  }).pipe((release) => Release.bounded(release, releaseTimeout, () => "release timed out"), Effect.ignore)

/** A started backend process as a `RemoteProcess`: its pid read, stderr drained, its group stopped on release. */
export const fromRaw = (identity: RA.Identity, signaller: Signaller, raw: RA.RawProcess, line: string) =>
  Effect.gen(function*() {
    const { pid, stdout } = yield* Release.bounded(splitPid(raw, identity.hostname, identity.port), pidTimeout, () =>
      new RemoteConnectionError({ host: identity.hostname, port: identity.port, reason: "timeout", detail: `no pid from the command within ${Duration.format(pidTimeout)}` }))
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
    const kill = (signal: RA.Signal = "TERM") => Effect.flatMap(groupOf(pid), (group) => signaller.ssh(["kill", "-s", signal, "--", group], {}))

    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Ref.get(exited), (done) => (done ? Effect.void : stopGroup(signaller, pid, exitCode, line)))
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
  }).pipe(Effect.annotateLogs({ host: identity.hostname }))

/** `RemoteAccount.startProcess`. */
export const start = (backend: RA.Backend, signaller: Signaller, command: Shell.Command, options: RA.CommandOptions = {}) => {
  const line = Shell.toLine(command)
  // Once the command runs, an interruption must wait until its pid is known and its kill-on-release registered:
  // without a pid nothing could stop it (without a pty it survives its channel).
  return Effect.flatMap(CommandLine.prepare(backend.identity, line, options), ({ stdin, wrapped }) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(backend.exec(wrapped, stdin)), (raw) => fromRaw(backend.identity, signaller, raw, line))
    ))
}
