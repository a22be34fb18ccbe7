/**
 * The ssh2 backend of RemoteAccount: commands over the channels of a few persistent connections, files over SFTP.
 * `make` reads the options and puts the parts together — connecting (connect.ts), the pool of connections
 * (pool.ts), commands (exec.ts), files (files.ts) — then asks the node what the account's identity needs.
 */
import * as NodeOs from "node:os"
import type { Scope } from "effect"
import { Duration, Effect, Stream } from "effect"
import * as RemoteAccount from "../../../RemoteAccount.js"
import { RemoteConnectionError } from "../errors.js"
import type * as SA from "../../../SshAccount.js"
import * as SshConnect from "./connect.js"
import * as SshExec from "./exec.js"
import * as SshFiles from "./files.js"
import * as SshPool from "./pool.js"

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

    const connectionError = (reason: RemoteAccount.ConnectionFailure, detail: string, cause?: unknown) =>
      new RemoteConnectionError({ host: options.hostname, port, reason, detail, ...(cause === undefined ? {} : { cause }) })

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
    // Made after the pool, so that its release (waiting for the stops of abandoned channels) runs before the pool's
    // release closes the connections those stops run on.
    const commands: SshExec.Commands = yield* SshExec.make(pool, options.hostname, connectionError)
    const exec = commands.exec
    const sftp = SshFiles.session(pool, connectionError)
    const backend: Omit<RemoteAccount.Backend, "identity"> = { exec, ...SshFiles.make(sftp, options.hostname, connectionError) }

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
 * last global IPv4 address not on a container or VM bridge (nor on our own: a lab's dt-…-br, a docker cluster's
 * dtN-…, which come and go with runs); undefined if it has none or cannot say.
 */
const ownAddress = (exec: RemoteAccount.Backend["exec"]) =>
  outputOf(
    exec,
    `PATH="$PATH:/usr/sbin:/sbin"; { ip -o -4 addr show dev eth1 scope global 2>/dev/null | awk '{ print $4 }' | head -1 | grep .; } || ` +
      `ip -o -4 addr show scope global 2>/dev/null | awk '$2 !~ /^(docker|br-|virbr|veth|cni|flannel|cali|lxc|dt[0-9]?-)/ { print $4 }' | tail -1`
  ).pipe(
    Effect.map(([out]) => {
      const address = out.trim().split("/")[0] ?? ""
      return /^\d{1,3}(\.\d{1,3}){3}$/.test(address) ? address : undefined
    }),
    Effect.orElseSucceed(() => undefined)
  )
