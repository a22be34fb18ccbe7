/**
 * The ssh2 backend of RemoteAccount: commands over the channels of a few persistent connections, files over SFTP.
 * `make` reads the options and puts the parts together — connecting (sshConnect.ts), the pool of connections
 * (sshPool.ts), commands (sshExec.ts), files over SFTP (below) — then asks the node what the account's identity needs.
 */
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Exit, FiberId, Option, Stream } from "effect"
import type { SFTPWrapper, Stats } from "ssh2"
import * as RemoteAccount from "../../RemoteAccount.js"
import { RemoteConnectionError, RemoteFileError } from "./errors.js"
import type * as SA from "../../SshAccount.js"
import * as SshConnect from "./sshConnect.js"
import type { ConnectionErrorOf, SshError } from "./sshConnect.js"
import * as SshExec from "./sshExec.js"
import * as SshPool from "./sshPool.js"
import { ChannelRefused, channelOpenRetry, type Pool } from "./sshPool.js"
import { errorText } from "../shared/errorText.js"

const defaultConnectTimeout = Duration.seconds(10)
const defaultKeepalive = Duration.seconds(5)

/** @internal */
export const make = (options: SA.SshAccountOptions): Effect.Effect<RemoteAccount.RemoteAccount, RemoteConnectionError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.sshHostname ?? options.hostname
    const port = options.port ?? 22
    const user = options.user ?? NodeOs.userInfo().username
    const maxChannels = Math.max(1, options.maxChannelsPerConnection ?? 4)
    const maxConnections = Math.max(1, options.maxConnections ?? 4)
    const connectTimeout = Duration.decode(options.connectTimeout ?? defaultConnectTimeout)
    const keepalive = Duration.decode(options.keepaliveInterval ?? defaultKeepalive)

    const connectionError = (reason: RemoteAccount.ConnectionFailure, detail: string) =>
      new RemoteConnectionError({ host: options.hostname, port, reason, detail })

    const connect = yield* SshConnect.connector(options, { host, port, user, connectTimeout, keepalive }, connectionError)
    const pool: SshPool.Pool = yield* SshPool.make({
      hostname: options.hostname,
      address: `${user}@${host}:${port}`,
      maxConnections,
      maxChannels,
      connect,
      // Stopping the commands of a dropped connection runs commands itself, on this very pool. It runs only once a
      // connection came back, so `commands` exists by then: the first connection has nothing to stop.
      stopLost: Effect.suspend(() => commands.stopLost)
    })
    // Made after the pool: its release (waiting for the stops of abandoned channels) runs before the pool's closes
    // the connections those stops run on.
    const commands: SshExec.Commands = yield* SshExec.make(pool, options.hostname, connectionError)
    const exec = commands.exec
    const sftp = sftpSession(pool, connectionError)
    const backend: Omit<RemoteAccount.Backend, "identity"> = { exec, ...makeFiles(sftp, options.hostname, connectionError) }

    // SFTP is opened now, alongside the first command: a server without it fails here, by name, rather than at
    // the first file operation with what would look like a lost connection.
    const [workdir] = yield* Effect.all([
      options.workdir === undefined ? remoteHome(exec, connectionError) : Effect.succeed(options.workdir),
      sftp
    ], { concurrency: "unbounded" })
    const identity: RemoteAccount.Identity = {
      hostname: options.hostname,
      sshHostname: host,
      user,
      port,
      externallyRoutableIp: options.externallyRoutableIp ??
        (options.askExternallyRoutableIp === true ? (yield* ownAddress(exec)) ?? host : host),
      os: "linux",
      workdir
    }
    return RemoteAccount.make({ identity, ...backend })
  }).pipe(Effect.withSpan("SshAccount.make", { attributes: { host: options.hostname } }))

/** A short command's output and exit status, asked of the backend itself (before the account exists). */
const outputOf = (exec: RemoteAccount.Backend["exec"], line: string) =>
  Effect.scoped(
    Effect.flatMap(exec(line), (p) =>
      Effect.all([
        Stream.runFold(Stream.decodeText(p.stdout), "", (acc, s) => acc + s),
        p.exitCode
      ], { concurrency: "unbounded" }))
  )

/** `$HOME` as the remote login sees it. */
const remoteHome = (
  exec: RemoteAccount.Backend["exec"],
  connectionError: (reason: RemoteAccount.ConnectionFailure, detail: string) => RemoteConnectionError
) =>
  Effect.flatMap(outputOf(exec, `printf '%s' "$HOME"`), ([home, code]) =>
    code === 0 && home.startsWith("/")
      ? Effect.succeed(home)
      : Effect.fail(connectionError("other", `cannot learn the remote $HOME (exit ${code}); set workdir`)))

/**
 * The node's own idea of its address (see SshAccountOptions.askExternallyRoutableIp): eth1's IPv4 address, else the
 * last global IPv4 address not on a container or VM bridge; undefined if it has none or cannot say.
 */
const ownAddress = (exec: RemoteAccount.Backend["exec"]) =>
  outputOf(
    exec,
    `PATH="$PATH:/usr/sbin:/sbin"; { ip -o -4 addr show dev eth1 scope global 2>/dev/null | awk '{ print $4 }' | head -1 | grep .; } || ` +
      `ip -o -4 addr show scope global 2>/dev/null | awk '$2 !~ /^(docker|br-|virbr|veth|cni|flannel|cali|lxc)/ { print $4 }' | tail -1`
  ).pipe(
    Effect.map(([out]) => {
      const address = out.trim().split("/")[0] ?? ""
      return /^\d{1,3}(\.\d{1,3}){3}$/.test(address) ? address : undefined
    }),
    Effect.orElseSucceed(() => undefined)
  )

// ---------------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------------

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
type Files = Pick<
  RemoteAccount.Backend,
  "upload" | "download" | "readFile" | "writeFile" | "stat" | "readDir" | "mkdir" | "transferConcurrency" | "copiesTreesAsTar"
>

/** The file operations of the account of `hostname`, over `sftp` (see `sftpSession`). */
const makeFiles = (
  sftp: Effect.Effect<SFTPWrapper, RemoteConnectionError>,
  hostname: string,
  connectionError: ConnectionErrorOf
): Files => {
  const fileError = (path: string, reason: string) => new RemoteFileError({ host: hostname, path, reason })

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
      return fileError(path, reason)
    }
    if (typeof code === "string") return fileError(path, errorText(e)) // a local ENOENT, EACCES…
    return connectionError("closed", `SFTP: ${errorText(e)}`)
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
const sftpSession = (pool: Pool, connectionError: ConnectionErrorOf): Effect.Effect<SFTPWrapper, RemoteConnectionError> => {
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
                        `"Subsystem sftp internal-sftp" (or the path of sftp-server) to its sshd_config and reload sshd`
                    )
                    : connectionError("closed", `cannot open SFTP: ${message}`)
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
            resume(Effect.fail(connectionError("closed", errorText(e))))
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
  fileError: (path: string, reason: string) => RemoteFileError
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
        ? fileError(localPath, `local file ${localPath} does not exist`)
        : fileError(localPath, `cannot read local file ${localPath}: ${errorText(e)}`)
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
