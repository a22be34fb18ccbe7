/**
 * Making one authenticated SSH connection to a node, directly or through jump hosts (`proxyJump`), and turning
 * what ssh2 and the socket report when that fails into a reason a person can act on. Nothing here keeps
 * connections: the pool (pool.ts) decides when to connect and what to do when a connection drops.
 */
import type * as NodeStream from "node:stream"
import * as NodeOs from "node:os"
import { Duration, Effect } from "effect"
import ssh2 from "ssh2"
import type { AuthMethod, Client, ConnectConfig } from "ssh2"
import type * as SA from "../../../SshAccount.js"
import type { ConnectionFailure, RemoteConnectionError } from "../errors.js"
import { authMethods, type HostKeyProblem, hostKeyChecker } from "./auth.js"
import { errorText } from "../../shared/errorText.js"

const keepaliveCountMax = 4

/** An error as ssh2 and the socket report it. */
export interface SshError extends Error {
  readonly level?: string
  readonly code?: string | number
  readonly reason?: string | number
}

/** Makes the connection error of one account (its host and port) from a reason, a detail and the error behind it. */
export type ConnectionErrorOf = (reason: ConnectionFailure, detail: string, cause?: unknown) => RemoteConnectionError

/** Where and as whom an account connects, with its durations decoded. */
export interface Endpoint {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly connectTimeout: Duration.Duration
  readonly keepalive: Duration.Duration
}

/** What every connection attempt of an account presents and checks, prepared once. */
interface Prepared {
  readonly auth: ReadonlyArray<AuthMethod>
  readonly checkHostKey: (key: Buffer) => HostKeyProblem | undefined
  readonly hops: ReadonlyArray<PreparedHop>
}

/**
 * One connection attempt to `endpoint`, its authentication, host-key check and jump hosts prepared now: a bad key
 * file (of the node or of a jump host) fails here, by name.
 */
export const connector = (
  options: SA.SshAccountOptions,
  endpoint: Endpoint,
  connectionError: ConnectionErrorOf
): Effect.Effect<Effect.Effect<Client, RemoteConnectionError>, RemoteConnectionError> =>
  Effect.gen(function*() {
    // -- authentication: every method is prepared up front so that a bad key file fails here, by name. ----------
    const auth = yield* authMethods(options, endpoint.user, connectionError)

    // -- host key verification ---------------------------------------------------------------------------
    const checkHostKey = yield* hostKeyChecker(options, endpoint.host, endpoint.port)
    const hops = yield* prepareHops(options, connectionError)
    return connectOnce(endpoint, { auth, checkHostKey, hops }, connectionError)
  })

/** One connection attempt. Maps ssh2's failures to the reasons a person can act on. */
const connectOnce = (
  { connectTimeout, host, keepalive, port, user }: Endpoint,
  { auth, checkHostKey, hops }: Prepared,
  connectionError: ConnectionErrorOf
): Effect.Effect<Client, RemoteConnectionError> =>
  openTunnel(hops, host, port, connectTimeout, keepalive).pipe(Effect.flatMap((tunnel) =>
    Effect.async<Client, RemoteConnectionError>((resume) => {
      const client = new ssh2.Client()
      let settled = false
      let hostKeyProblem: HostKeyProblem | undefined
      // The jump hosts' connections live as long as this one.
      if (tunnel !== undefined) client.once("close", tunnel.close)
      const settle = (effect: Effect.Effect<Client, RemoteConnectionError>) => {
        if (settled) return
        settled = true
        resume(effect)
      }
      const fail = (e: RemoteConnectionError) => {
        settle(Effect.fail(e))
        client.end()
        tunnel?.close()
      }
      // ssh2 emits "error" without a listener as an uncaught exception: one listener lives as long as the client.
      client.on("error", (err: SshError) => {
        if (settled) return
        fail(hostKeyProblem === undefined ? classify(err, connectionError) : connectionError(hostKeyProblem.reason, hostKeyProblem.detail))
      })
      // Nagle holds back each small request: ~45 ms per command with it, ~3 ms without.
      client.on("connect", () => client.setNoDelay(true))
      client.once("ready", () => settle(Effect.succeed(client)))
      client.once("close", () => fail(connectionError("closed", "the server closed the connection during the handshake")))
      const config: ConnectConfig = {
        host,
        port,
        ...(tunnel === undefined ? {} : { sock: tunnel.sock }),
        username: user,
        readyTimeout: Math.max(1, Duration.toMillis(connectTimeout)),
        keepaliveInterval: Duration.toMillis(keepalive),
        keepaliveCountMax,
        authHandler: auth as Array<AuthMethod>,
        hostVerifier: (key: Buffer) => {
          const problem = checkHostKey(key)
          if (problem !== undefined) hostKeyProblem = problem
          return problem === undefined
        }
      }
      try {
        client.connect(config)
      } catch (e) {
        fail(connectionError("other", errorText(e), e))
      }
      return Effect.sync(() => {
        settled = true
        client.destroy()
        tunnel?.close()
      })
    }))).pipe(
    // ssh2's readyTimeout covers TCP connect, key exchange and authentication; this guards the guard.
    Effect.timeoutFail({
      duration: Duration.sum(connectTimeout, Duration.seconds(1)),
      onTimeout: () => connectionError("timeout", `no SSH session within ${Duration.format(connectTimeout)}`)
    })
  )

/** Maps a connection failure from ssh2 or the socket to a reason. */
const classify = (err: SshError, connectionError: ConnectionErrorOf): RemoteConnectionError => {
  const message = errorText(err)
  switch (err.code) {
    case "ECONNREFUSED":
      return connectionError("refused", message, err)
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return connectionError("dns", message, err)
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return connectionError("timeout", message, err)
    case "ECONNRESET":
    case "EPIPE":
      return connectionError("closed", message, err)
  }
  switch (err.level) {
    case "client-authentication":
      return connectionError("auth", message, err)
    case "client-timeout":
      return connectionError("timeout", message, err)
    case "client-dns":
      return connectionError("dns", message, err)
  }
  if (message.includes("Connection lost before handshake")) return connectionError("closed", message, err)
  return connectionError("other", message, err)
}

// ---------------------------------------------------------------------------------------------------------
// ProxyJump: a connection made through jump hosts
// ---------------------------------------------------------------------------------------------------------

/** A jump host ready to connect to: its authentication and host-key check prepared when the account is made. */
interface PreparedHop {
  readonly hostname: string
  readonly port: number
  readonly user: string
  readonly auth: ReadonlyArray<AuthMethod>
  readonly checkHostKey: (key: Buffer) => HostKeyProblem | undefined
  readonly hopError: ConnectionErrorOf
}

/** Prepares the hops of `proxyJump`, so that a bad key file of a jump host fails `make`, naming that host. */
const prepareHops = (
  options: SA.SshAccountOptions,
  connectionError: ConnectionErrorOf
): Effect.Effect<ReadonlyArray<PreparedHop>, RemoteConnectionError> =>
  Effect.forEach(options.proxyJump ?? [], (hop) =>
    Effect.gen(function*() {
      const port = hop.port ?? 22
      const user = hop.user ?? NodeOs.userInfo().username
      const hopError = (reason: ConnectionFailure, detail: string, cause?: unknown) =>
        connectionError(reason, `through jump host ${user}@${hop.hostname}:${port}: ${detail}`, cause)
      const asAccount: SA.SshAccountOptions = { ...hop, hostname: hop.hostname }
      const auth = yield* authMethods(asAccount, user, hopError)
      const checkHostKey = yield* hostKeyChecker(asAccount, hop.hostname, port)
      return { hostname: hop.hostname, port, user, auth, checkHostKey, hopError }
    }))

/**
 * A stream to `host:port` opened through the hops, each hop's connection made over the previous one's
 * `forwardOut` (what `ssh -J` does), and a function closing the hops. ssh2 takes the stream as its `sock`.
 * Undefined without hops.
 */
const openTunnel = (
  hops: ReadonlyArray<PreparedHop>,
  host: string,
  port: number,
  connectTimeout: Duration.Duration,
  keepalive: Duration.Duration
): Effect.Effect<{ readonly sock: NodeStream.Duplex; readonly close: () => void } | undefined, RemoteConnectionError> => {
  if (hops.length === 0) return Effect.succeed(undefined)
  return Effect.suspend(() => {
    const clients: Array<Client> = []
    const close = () => {
      for (const c of [...clients].reverse()) c.end()
    }
    const through = (i: number, sock: NodeStream.Duplex | undefined): Effect.Effect<NodeStream.Duplex, RemoteConnectionError> =>
      Effect.async<NodeStream.Duplex, RemoteConnectionError>((resume) => {
        const hop = hops[i]!
        const next = hops[i + 1]
        const target = next === undefined ? { host, port } : { host: next.hostname, port: next.port }
        const client = new ssh2.Client()
        clients.push(client)
        let settled = false
        let hostKeyProblem: HostKeyProblem | undefined
        const settle = (effect: Effect.Effect<NodeStream.Duplex, RemoteConnectionError>) => {
          if (settled) return
          settled = true
          resume(effect)
        }
        client.on("error", (err: SshError) =>
          settle(Effect.fail(
            hostKeyProblem === undefined ? classify(err, hop.hopError) : hop.hopError(hostKeyProblem.reason, hostKeyProblem.detail)
          )))
        client.once("close", () => settle(Effect.fail(hop.hopError("closed", "the jump host closed the connection"))))
        client.on("connect", () => client.setNoDelay(true))
        client.once("ready", () =>
          client.forwardOut("127.0.0.1", 0, target.host, target.port, (err, stream) =>
            err
              ? settle(Effect.fail(hop.hopError("refused", `it cannot reach ${target.host}:${target.port}: ${err.message}`, err)))
              : settle(Effect.succeed(stream))))
        try {
          client.connect({
            host: hop.hostname,
            port: hop.port,
            ...(sock === undefined ? {} : { sock }),
            username: hop.user,
            readyTimeout: Math.max(1, Duration.toMillis(connectTimeout)),
            keepaliveInterval: Duration.toMillis(keepalive),
            keepaliveCountMax,
            authHandler: hop.auth as Array<AuthMethod>,
            hostVerifier: (key: Buffer) => {
              hostKeyProblem = hop.checkHostKey(key)
              return hostKeyProblem === undefined
            }
          })
        } catch (e) {
          settle(Effect.fail(hop.hopError("other", errorText(e), e)))
        }
      })
    let chain: Effect.Effect<NodeStream.Duplex | undefined, RemoteConnectionError> = Effect.succeed(undefined)
    for (let i = 0; i < hops.length; i++) chain = Effect.flatMap(chain, (sock) => through(i, sock))
    return chain.pipe(
      Effect.map((sock) => ({ sock: sock!, close })),
      // A failed or interrupted attempt leaves no jump connection open.
      Effect.onError(() => Effect.sync(close))
    )
  })
}
