/**
 * Directories copied as one tar stream through a command: a local tar's output piped into a remote tar's input
 * (or the other way round). Over ssh that is one channel and a few round trips for the whole tree, where SFTP
 * needs several per file; with a thousand small files it carries about 1.5× the files per second.
 *
 * Each copy answers `false` when tar is missing on either end, and the caller copies file by file instead.
 */
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs/promises"
import type { Readable, Writable } from "node:stream"
import { PassThrough } from "node:stream"
import type { Scope } from "effect"
import { Deferred, Effect, Stream } from "effect"
import type * as RA from "../RemoteAccount.js"
import { RemoteFileError } from "../RemoteAccount.js"
import * as Shell from "../Shell.js"

/** What a tree copy needs of an account. */
export interface Remote {
  readonly hostname: string
  readonly exec: RA.RemoteAccount["exec"]
  readonly startProcess: RA.RemoteAccount["startProcess"]
}

/** What a shell answers for a command it cannot find. */
const commandNotFound = 127

/** How much of a tar's complaints an error carries. */
const stderrTail = 2 * 1024

interface LocalTar {
  readonly stdin: Writable
  readonly stdout: Readable
  readonly exited: Effect.Effect<{ readonly code: number; readonly stderr: string }>
}

/**
 * A local tar for the life of the scope (killed by its pid if still running when the scope closes); `undefined`
 * when this machine has no tar.
 */
const spawnLocalTar = (args: ReadonlyArray<string>): Effect.Effect<LocalTar | undefined, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<ChildProcess.ChildProcess | undefined>((resume) => {
      const child = ChildProcess.spawn("tar", args, { stdio: ["pipe", "pipe", "pipe"] })
      child.once("spawn", () => resume(Effect.succeed(child)))
      // Only a failure to start arrives before "spawn"; a missing tar is the one we can work around.
      child.once("error", () => resume(Effect.succeed(undefined)))
    }),
    (child) =>
      Effect.sync(() => {
        if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  ).pipe(Effect.map((child) => {
    if (child === undefined) return undefined
    const exited = Deferred.unsafeMake<{ code: number; stderr: string }>(undefined as never)
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-stderrTail)))
    child.once("close", (code) => Deferred.unsafeDone(exited, Effect.succeed({ code: code ?? 128, stderr: stderr.trim() })))
    child.stdin!.on("error", () => {}) // a tar that failed early closes its input; its exit status says why
    // Read from the start: Node discards the unread output of a child that exits, and a small tree's tar exits
    // before the channel it goes to is open. The PassThrough holds it (and pushes back on tar when full).
    const stdout = child.stdout!.pipe(new PassThrough())
    return { stdin: child.stdin!, stdout, exited: Deferred.await(exited) } satisfies LocalTar
  }))

/** Writes a chunk, waiting while the writable is full; a writable that closed takes nothing more. */
const writeChunk = (w: Writable, chunk: Uint8Array) =>
  Effect.async<boolean>((resume) => {
    if (w.destroyed || w.writableEnded) return resume(Effect.succeed(false))
    if (w.write(chunk)) return resume(Effect.succeed(true))
    const done = () => {
      w.off("drain", done)
      w.off("close", done)
      resume(Effect.succeed(!w.destroyed))
    }
    w.once("drain", done)
    w.once("close", done)
  })

const tarFailed = (host: string, path: string, side: "local" | "remote", stderr: string) =>
  new RemoteFileError({ host, path, reason: `${side} tar failed: ${stderr === "" ? "no message" : stderr}` })

/** The contents of a local directory into a remote one (created if missing). */
export const send = (
  remote: Remote,
  localDir: string,
  remoteDir: string
): Effect.Effect<boolean, RemoteFileError | RA.RemoteConnectionError> =>
  Effect.scoped(Effect.gen(function*() {
    // -h: a link is copied as what it points to, as the file-by-file copy does.
    const local = yield* spawnLocalTar(["-c", "-h", "-f", "-", "-C", localDir, "."])
    if (local === undefined) return false
    local.stdin.end()
    const dir = Shell.quote(remoteDir)
    // -o: files belong to the remote user, whoever owned them here; -m: modified now, as a file-by-file copy is.
    const ran = yield* remote.exec(`mkdir -p ${dir} && exec tar -x -o -m -f - -C ${dir}`, { stdin: local.stdout }).pipe(
      Effect.catchTag("RemoteCommandTimeout", Effect.die) // no timeout was asked for
    )
    if (ran.exitCode === commandNotFound) return false
    // A remote failure first: the local tar may be stuck writing to a reader that is gone (the scope kills it).
    if (ran.exitCode !== 0) return yield* Effect.fail(tarFailed(remote.hostname, remoteDir, "remote", ran.stderr.trim()))
    const { code, stderr } = yield* local.exited
    if (code !== 0) return yield* Effect.fail(tarFailed(remote.hostname, localDir, "local", stderr))
    return true
  }))

/** The contents of a remote directory into a local one (created if missing). */
export const fetch = (
  remote: Remote,
  remoteDir: string,
  localDir: string
): Effect.Effect<boolean, RemoteFileError | RA.RemoteConnectionError> =>
  Effect.scoped(Effect.gen(function*() {
    yield* Effect.promise(() => NodeFs.mkdir(localDir, { recursive: true }))
    const local = yield* spawnLocalTar(["-x", "-o", "-m", "-f", "-", "-C", localDir])
    if (local === undefined) return false
    const sending = yield* remote.startProcess(`exec tar -c -h -f - -C ${Shell.quote(remoteDir)} .`)
    let accepted = true
    yield* Stream.runForEachWhile(sending.stdout, (chunk) => Effect.map(writeChunk(local.stdin, chunk), (ok) => (accepted = ok)))
    local.stdin.end()
    if (!accepted) {
      // The local tar gave up (a full disk, say): its reason, and the scope stops the remote one. One that ended
      // happily before the remote's last padding has all there is: take the rest and go on.
      const early = yield* local.exited
      if (early.code !== 0) return yield* Effect.fail(tarFailed(remote.hostname, localDir, "local", early.stderr))
      yield* Stream.runDrain(sending.stdout)
    }
    // The remote status first: a remote without tar sent nothing, and the local tar's complaint about that is noise.
    const remoteCode = yield* sending.exitCode
    if (remoteCode === commandNotFound) return false
    if (remoteCode !== 0) return yield* Effect.fail(tarFailed(remote.hostname, remoteDir, "remote", (yield* sending.stderrTail).trim()))
    const { code, stderr } = yield* local.exited
    if (code !== 0) return yield* Effect.fail(tarFailed(remote.hostname, localDir, "local", stderr))
    return true
  }))
