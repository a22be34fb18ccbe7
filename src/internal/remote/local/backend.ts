import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodeStream from "node:stream"
import { Deferred, Effect, Exit, Option } from "effect"
import type * as LA from "../../../LocalAccount.js"
import * as RemoteAccount from "../../../RemoteAccount.js"
import { RemoteConnectionError, RemoteFileError } from "../errors.js"
import { signalGroup } from "./processes.js"
import * as ReadableStream from "../readableStream.js"
import * as Release from "../../shared/release.js"

const signalNumbers = NodeOs.constants.signals as Record<string, number>

/** @internal */
export const make = (options: LA.LocalAccountOptions) =>
  Effect.gen(function*() {
    yield* Effect.promise(() => NodeFs.mkdir(options.workdir, { recursive: true }))
    const user = NodeOs.userInfo().username
    const identity: RemoteAccount.Identity = {
      hostname: options.hostname,
      sshHostname: "localhost",
      user,
      port: 0,
      externallyRoutableIp: options.address ?? "127.0.0.1",
      os: "linux",
      workdir: options.workdir
    }
    const spawnError = (e: unknown) =>
      new RemoteConnectionError({ host: options.hostname, port: 0, reason: "other", detail: String(e), cause: e })
    const fileError = (path: string) => (e: unknown) =>
      new RemoteFileError({
        host: options.hostname,
        path,
        reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : String(e),
        cause: e
      })

    const exec: RemoteAccount.Backend["exec"] = (line, stdin) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          // detached: the shell becomes a session (and process group) leader, as under sshd.
          // From `/`: the line goes to its own directory first (RemoteAccount's wrapper does), and a workdir that is
          // gone must fail that `cd`, with its message, not the spawn.
          const child = ChildProcess.spawn("/bin/sh", ["-c", line], {
            cwd: "/",
            detached: true,
            stdio: ["pipe", "pipe", "pipe"]
          })
          const exit = Deferred.unsafeMake<number, RemoteConnectionError>(undefined as never)
          // The shell itself ended (its output may still be open, held by something it started).
          const exited = Deferred.unsafeMake<void>(undefined as never)
          child.once("exit", () => Deferred.unsafeDone(exited, Exit.void))
          child.once("error", (e) => {
            Deferred.unsafeDone(exited, Exit.void)
            Deferred.unsafeDone(exit, Effect.fail(spawnError(e)))
          })
          child.once("close", (code, signal) =>
            Deferred.unsafeDone(
              exit,
              Effect.succeed(code ?? (signal === null ? 255 : 128 + (signalNumbers[signal] ?? 0)))
            ))
          child.stdin.on("error", () => {}) // a command that ignores its stdin may close it early
          if (stdin === undefined || stdin instanceof Uint8Array) child.stdin.end(stdin === undefined ? undefined : Buffer.from(stdin))
          // If the readable fails, the command's input ends: it must not wait for more.
          else NodeStream.pipeline(stdin, child.stdin, () => {})
          return { child, exit, exited }
        }),
        ({ child, exited }) =>
          Effect.flatMap(Deferred.isDone(exited), (done) =>
            // Still running: its caller did not stop it (interrupted before it could; its own release runs first).
            done ? Effect.void : Release.termThenKill({
              term: signalGroup(child.pid ?? 0, "SIGTERM"),
              kill: signalGroup(child.pid ?? 0, "SIGKILL"),
              ended: Deferred.await(exited),
              grace: Release.killGrace
            })).pipe(
              Effect.ensuring(Effect.sync(() => {
                child.stdout.destroy()
                child.stderr.destroy()
              }))
            )
      ).pipe(Effect.map(({ child, exit }) => {
        const stdout = ReadableStream.pump(child.stdout, spawnError)
        const stderr = ReadableStream.pump(child.stderr, spawnError)
        return ReadableStream.collectable<RemoteAccount.RawProcess, RemoteConnectionError>(
          { stdout: stdout.stream, stderr: stderr.stream, exitCode: Deferred.await(exit) },
          stdout,
          stderr
        )
      }))

    const backend: RemoteAccount.Backend = {
      identity,
      exec,
      upload: (local, remote) => Effect.tryPromise({ try: () => NodeFs.copyFile(local, remote), catch: fileError(remote) }),
      download: (remote, local) => Effect.tryPromise({ try: () => NodeFs.copyFile(remote, local), catch: fileError(remote) }),
      readFile: (path) => Effect.tryPromise({ try: () => NodeFs.readFile(path), catch: fileError(path) }),
      writeFile: (path, data) => Effect.tryPromise({ try: () => NodeFs.writeFile(path, data), catch: fileError(path) }),
      stat: (path, follow) =>
        Effect.tryPromise({ try: () => (follow ? NodeFs.stat(path) : NodeFs.lstat(path)), catch: (e) => e }).pipe(
          Effect.map((s) =>
            Option.some<RemoteAccount.FileInfo>({
              type: s.isFile() ? "file" : s.isDirectory() ? "dir" : s.isSymbolicLink() ? "link" : "other",
              size: s.size,
              mode: s.mode & 0o7777
            })
          ),
          Effect.catchAll((e) =>
            ["ENOENT", "ENOTDIR"].includes((e as NodeJS.ErrnoException).code ?? "")
              ? Effect.succeed(Option.none())
              : Effect.fail(fileError(path)(e))
          )
        ),
      readDir: (path) => Effect.tryPromise({ try: () => NodeFs.readdir(path), catch: fileError(path) }),
      mkdir: (path) =>
        Effect.tryPromise({ try: () => NodeFs.mkdir(path, { recursive: true }), catch: fileError(path) }).pipe(Effect.asVoid),
      transferConcurrency: 16
    }
    return RemoteAccount.make(backend)
  })
