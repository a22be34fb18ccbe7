/**
 * Files over SFTP: one session on the pool's first connection (pool.ts), opened once and again after that
 * connection dropped, and the file half of the backend on it. SFTP failures are sorted here into those about the
 * file (RemoteFileError) and those about the connection, and small uploads take a shorter path than `fastPut`.
 */
import * as NodeFs from "node:fs/promises"
import { Deferred, Effect, Exit, FiberId, Option } from "effect"
import type { SFTPWrapper, Stats } from "ssh2"
import type * as RemoteAccount from "../../../RemoteAccount.js"
import { type RemoteConnectionError, RemoteFileError } from "../errors.js"
import type { ConnectionErrorOf, SshError } from "./connect.js"
import { ChannelRefused, channelOpenRetry, type Pool } from "./pool.js"
import { errorText } from "../../shared/errorText.js"

/** SFTP requests in flight per big transfer, and their size: ~500 MiB/s on loopback (FIELD-NOTES). */
const transferOptions = { concurrency: 64, chunkSize: 128 * 1024 }
/**
 * Files up to this size are uploaded from memory with their requests pipelined (see `putSmall`); larger ones
 * stream through `fastPut`.
 */
const smallFileMax = transferOptions.chunkSize
/** Below the smallest write length ssh2 assumes of any server (34000 − 2048), so no write is split into a chain. */
const smallWritePiece = 30 * 1024

/** The file operations of a backend. */
export type Files = Pick<
  RemoteAccount.Backend,
  "upload" | "download" | "readFile" | "writeFile" | "stat" | "readDir" | "mkdir" | "transferConcurrency" | "copiesTreesAsTar"
>

/** The file operations of the account of `hostname`, over `sftp` (see `session`). */
export const make = (
  sftp: Effect.Effect<SFTPWrapper, RemoteConnectionError>,
  hostname: string,
  connectionError: ConnectionErrorOf
): Files => {
  const fileError = (path: string, reason: string, cause?: unknown) =>
    new RemoteFileError({ host: hostname, path, reason, ...(cause === undefined ? {} : { cause }) })

  /** An SFTP failure: a status from the server is about the file, anything else is about the connection. */
  const sftpFailure = (path: string) => (e: unknown): RemoteFileError | RemoteConnectionError => {
    const code = (e as SshError).code
    if (typeof code === "number") {
      const reason = code === 2
        ? "no such file or directory"
        : code === 3
        ? "permission denied"
        : code === 4
        ? `failed (${errorText(e)})`
        : errorText(e)
      return fileError(path, reason, e)
    }
    if (typeof code === "string") return fileError(path, errorText(e), e) // a local ENOENT, EACCES…
    return connectionError("closed", `SFTP: ${errorText(e)}`, e)
  }

  /** Runs one SFTP call. */
  const withSftp = <A>(path: string, call: (s: SFTPWrapper, cb: (err: unknown, value?: A) => void) => void) =>
    Effect.flatMap(sftp, (session) =>
      Effect.async<A, RemoteFileError | RemoteConnectionError>((resume) => {
        call(session, (err, value) => {
          if (err !== undefined && err !== null) resume(Effect.fail(sftpFailure(path)(err)))
          else resume(Effect.succeed(value as A))
        })
      }))

  const stat: RemoteAccount.Backend["stat"] = (path, follow) =>
    withSftp<Stats>(path, (s, cb) => (follow ? s.stat(path, cb) : s.lstat(path, cb))).pipe(
      Effect.map((st) =>
        Option.some<RemoteAccount.FileInfo>({
          type: st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "link" : "other",
          size: st.size,
          mode: st.mode & 0o7777
        })
      ),
      Effect.catchIf(
        (e): e is RemoteFileError => e._tag === "RemoteFileError" && e.reason === "no such file or directory",
        () => Effect.succeed(Option.none())
      )
    )

  return {
    upload: (localPath, remotePath) =>
      Effect.flatMap(readForUpload(localPath, fileError), ({ data, mode, size }) =>
        withSftp<void>(remotePath, (s, cb) =>
          data === undefined
            ? s.fastPut(localPath, remotePath, { ...transferOptions, mode, fileSize: size }, cb)
            : putSmall(s, remotePath, data, mode, cb))),
    download: (remotePath, localPath) =>
      withSftp<void>(remotePath, (s, cb) => s.fastGet(remotePath, localPath, transferOptions, cb)),
    readFile: (path) => withSftp<Buffer>(path, (s, cb) => s.readFile(path, cb)),
    writeFile: (path, data) => withSftp<void>(path, (s, cb) => s.writeFile(path, Buffer.from(data), cb)),
    stat,
    readDir: (path) =>
      withSftp<Array<{ filename: string }>>(path, (s, cb) => s.readdir(path, cb)).pipe(
        Effect.map((entries) => entries.map((e) => e.filename).filter((n) => n !== "." && n !== ".."))
      ),
    mkdir: (path) =>
      withSftp<void>(path, (s, cb) => s.mkdir(path, cb)).pipe(
        // OpenSSH answers a plain "failure" for an existing path: fine if it is a directory.
        Effect.catchTag("RemoteFileError", (e) =>
          Effect.flatMap(stat(path, true), (info) =>
            Option.isSome(info) && info.value.type === "dir" ? Effect.void : Effect.fail(e)))
      ),
    transferConcurrency: 16,
    copiesTreesAsTar: true
  }
}

/**
 * The SFTP session on the pool's first connection: opened once and shared by every waiter, forgotten when it closes
 * (or its connection drops) so that the next use opens another.
 */
export const session = (pool: Pool, connectionError: ConnectionErrorOf): Effect.Effect<SFTPWrapper, RemoteConnectionError> => {
  const primary = pool.primary
  return Effect.suspend(() => {
    if (primary.sftp !== undefined) return Deferred.await(primary.sftp)
    const ready = Deferred.unsafeMake<SFTPWrapper, RemoteConnectionError>(FiberId.none)
    primary.sftp = ready
    return pool.clientOf(primary).pipe(
      Effect.flatMap((client) =>
        Effect.async<SFTPWrapper, ChannelRefused | RemoteConnectionError>((resume) => {
          try {
            client.sftp((err, session) => {
              if (err !== undefined) {
                const message = errorText(err)
                return resume(Effect.fail(
                  message.includes("Channel open failure")
                    ? new ChannelRefused({ detail: message })
                    : message.includes("Unable to start subsystem")
                    // Not a lost connection: the server has no SFTP, and every file operation would fail alike.
                    ? connectionError(
                      "other",
                      `the server offers no SFTP subsystem (${message}), which file operations need; add ` +
                        `"Subsystem sftp internal-sftp" (or the path of sftp-server) to its sshd_config and reload sshd`,
                      err
                    )
                    : connectionError("closed", `cannot open SFTP: ${message}`, err)
                ))
              }
              session.on("error", () => {})
              session.once("close", () => {
                if (primary.sftp === ready) primary.sftp = undefined
              })
              resume(Effect.succeed(session))
            })
          } catch (e) {
            pool.forget(primary, client)
            resume(Effect.fail(connectionError("closed", errorText(e), e)))
          }
        })
      ),
      Effect.retry({ schedule: channelOpenRetry, while: (e) => e._tag === "ChannelRefused" }),
      Effect.catchTag("ChannelRefused", (e) => Effect.fail(connectionError("other", e.detail))),
      Effect.onExit((exit) =>
        Effect.zipRight(
          Effect.sync(() => {
            if (Exit.isFailure(exit) && primary.sftp === ready) primary.sftp = undefined
          }),
          Deferred.done(ready, exit)
        )
      )
    )
  })
}

/** A local file about to be uploaded: its mode and size, and its bytes when it is small enough to hold. */
interface LocalFile {
  readonly mode: number
  readonly size: number
  readonly data: Buffer | undefined
}

/** Opens, stats and (for a small file) reads a local file through one handle: four fs calls in all. */
const readForUpload = (
  localPath: string,
  fileError: (path: string, reason: string, cause?: unknown) => RemoteFileError
): Effect.Effect<LocalFile, RemoteFileError> =>
  Effect.tryPromise({
    try: async () => {
      const handle = await NodeFs.open(localPath, "r")
      try {
        const info = await handle.stat()
        const mode = info.mode & 0o7777
        if (!info.isFile() || info.size > smallFileMax) return { mode, size: info.size, data: undefined }
        const data = Buffer.allocUnsafe(info.size)
        let filled = 0
        while (filled < data.length) {
          const { bytesRead } = await handle.read(data, filled, data.length - filled, filled)
          if (bytesRead === 0) break // it shrank meanwhile: send what there is
          filled += bytesRead
        }
        return { mode, size: filled, data: data.subarray(0, filled) }
      } finally {
        await handle.close()
      }
    },
    catch: (e) =>
      (e as NodeJS.ErrnoException).code === "ENOENT"
        ? fileError(localPath, `local file ${localPath} does not exist`, e)
        : fileError(localPath, `cannot read local file ${localPath}: ${errorText(e)}`, e)
  })

/**
 * Writes a small file in two round trips where `fastPut` takes four (open; fchmod; write; close, each awaited):
 * once the handle is open, the writes, the fchmod and the close go out together. The SFTP protocol has the server
 * act as if requests on a handle ran one at a time in order, so the close comes after the writes.
 */
const putSmall = (s: SFTPWrapper, path: string, data: Buffer, mode: number, cb: (err: unknown) => void) =>
  s.open(path, "w", (openError, handle) => {
    if (openError !== undefined && openError !== null) return cb(openError)
    let pending = Math.ceil(data.length / smallWritePiece) + 2
    let failure: unknown = undefined
    let modeRefused = false
    const done = (e: unknown) => {
      if (e !== undefined && e !== null && failure === undefined) failure = e
      if (--pending > 0) return
      if (failure !== undefined || !modeRefused) return cb(failure)
      // A server without fsetstat: set the mode by path, as fastPut does (and, like it, ignore a refusal).
      s.chmod(path, mode, () => cb(undefined))
    }
    for (let offset = 0; offset < data.length; offset += smallWritePiece) {
      s.write(handle, data, offset, Math.min(smallWritePiece, data.length - offset), offset, done)
    }
    s.fchmod(handle, mode, (e) => {
      if (e !== undefined && e !== null) modeRefused = true
      done(undefined)
    })
    s.close(handle, done)
  })
