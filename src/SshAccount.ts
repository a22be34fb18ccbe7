/**
 * A node reached over SSH (ssh2): commands run over channels of a few persistent connections, files move over
 * SFTP. Connections are opened when the account is made and re-opened after they drop.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Redacted, Scope } from "effect"
import { Layer } from "effect"
import * as internal from "./internal/remote/ssh/backend.js"
import type { RemoteConnectionError } from "./RemoteAccount.js"
import { RemoteAccount } from "./RemoteAccount.js"

/**
 * How to reach a node over SSH.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshAccountOptions {
  /** The node's logical name, e.g. `worker1`. */
  readonly hostname: string
  /** The address to connect to. Default: `hostname`. */
  readonly sshHostname?: string
  /** Default 22. */
  readonly port?: number
  /** Default: the local user's name. */
  readonly user?: string
  /** Private key file(s) to try, in order (`~/` is expanded). */
  readonly identityFile?: string | ReadonlyArray<string>
  /** A private key's text (OpenSSH or PEM), tried after the identity files. */
  readonly privateKey?: Redacted.Redacted<string>
  /** The passphrase of an encrypted private key. */
  readonly passphrase?: Redacted.Redacted<string>
  readonly password?: Redacted.Redacted<string>
  /**
   * An ssh-agent socket, or `true` for `$SSH_AUTH_SOCK`. With no identityFile, privateKey, password or agent given,
   * `$SSH_AUTH_SOCK` and the usual `~/.ssh/id_ed25519`, `id_ecdsa` and `id_rsa` are tried, as `ssh` does.
   */
  readonly agent?: string | boolean
  /** How long connecting (TCP, key exchange, authentication) may take. Default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput
  /** A known_hosts file to verify the host key against. Default `~/.ssh/known_hosts`. */
  readonly knownHosts?: string
  /** The host's public key (`ssh-ed25519 AAAA…`), checked instead of a known_hosts file. */
  readonly hostKey?: string
  /** Verify the host key (the default). `false` accepts any key: only for throw-away hosts. */
  readonly strictHostKeyChecking?: boolean
  /** The address others reach this node at. Default: `sshHostname` (but see `askExternallyRoutableIp`). */
  readonly externallyRoutableIp?: string
  /**
   * Learn the address others reach this node at from the node itself: for nodes reached through a port forwarded
   * to the driver's loopback (`vagrant ssh-config`), whose `sshHostname` is 127.0.0.1 for every node. It is eth1's
   * IPv4 address if the node has one (Vagrant's private network, as ducktape read it), else its last global IPv4
   * address outside container bridges, else `sshHostname`. Ignored when `externallyRoutableIp` is given.
   */
  readonly askExternallyRoutableIp?: boolean
  /**
   * The node's scratch directory (default cwd of commands, base of relative paths). Default: the remote `$HOME`,
   * as the login shell reports it. It is not created here.
   */
  readonly workdir?: string
  /** Concurrent channels per connection; sshd's MaxSessions (10) caps it. Default 4. */
  readonly maxChannelsPerConnection?: number
  /**
   * Connections opened (lazily, when channels run short) for parallel commands. Default 4. A running command, a
   * `startProcess` and a log monitor's `tail` each hold a channel while they run. When every channel has been busy
   * for a second (long-lived processes are the likely holders), one more connection is opened, up to 64; past that,
   * commands wait for a channel and the log says why.
   */
  readonly maxConnections?: number
  /** How often an idle connection is probed; after 4 unanswered probes it is declared lost. Default 5 seconds; 0 disables. */
  readonly keepaliveInterval?: Duration.DurationInput
  /**
   * Hosts to tunnel through, first hop first (OpenSSH's `ProxyJump a,b`): each connection to the node is made from
   * the last of them. `sshHostname` and `port` are then as the last hop sees them.
   */
  readonly proxyJump?: ReadonlyArray<JumpHost>
}

/**
 * A jump host (bastion) of `proxyJump`: where it is, who logs in, and how its own host key is checked.
 *
 * @since 0.1.0
 * @category models
 */
export interface JumpHost
  extends Pick<SshAccountOptions, "port" | "user" | "identityFile" | "privateKey" | "passphrase" | "password" | "agent">
{
  /** The address to connect to (from the hop before it, or from here for the first). */
  readonly hostname: string
  /** A known_hosts file for the jump host's key. Default `~/.ssh/known_hosts`. */
  readonly knownHosts?: string
  /** The jump host's public key, checked instead of a known_hosts file. */
  readonly hostKey?: string
  /** Verify the jump host's key (the default). */
  readonly strictHostKeyChecking?: boolean
}

/**
 * Connects (failing fast with `RemoteConnectionError` when the host refuses, rejects the key, or presents an
 * unexpected host key) and returns the node's account; closing the scope closes the connections.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: SshAccountOptions) => Effect.Effect<RemoteAccount, RemoteConnectionError, Scope.Scope> =
  internal.make

/**
 * The account as a Layer of the `RemoteAccount` Tag.
 *
 * @since 0.1.0
 * @category constructors
 */
export const layer = (options: SshAccountOptions): Layer.Layer<RemoteAccount, RemoteConnectionError> =>
  Layer.scoped(RemoteAccount, make(options))
