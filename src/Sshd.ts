/**
 * A private OpenSSH server: our own tests connect to one on 127.0.0.1, and the multi-host lab runs one inside
 * each network namespace. It has its own host key, authorized keys, pid file and log in one directory, and
 * never touches the machine's own sshd.
 *
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"
import { Schema } from "effect"
import * as internal from "./internal/cluster/sshd.js"
import { SshdFailure, SshdError } from "./internal/cluster/errors.js"

export { SshdFailure, SshdError } from "./internal/cluster/errors.js"

/**
 * A key pair made by `generateKeyPair`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyPair {
  readonly privateKeyPath: string
  /** The public key line (`ssh-ed25519 AAAA… comment`), ready for an authorized_keys file. */
  readonly publicKey: string
}

/**
 * How to start a private sshd.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshdOptions {
  /** The address it listens on, e.g. `127.0.0.1` or a namespace's `10.200.0.11`. */
  readonly address: string
  /** The port; 0 or absent picks a free one. */
  readonly port?: number
  /** Holds its config, host key, authorized keys, pid file and log; created if missing. A host key found here is reused. */
  readonly dir: string
  /** Public key lines allowed to log in (any user the server has, root included). */
  readonly authorizedKeys: ReadonlyArray<string>
  /** `HOME` of the commands it runs (`SetEnv`), so that the user's real `~/.bashrc` is not run. Default: `dir`. */
  readonly home?: string
  /**
   * More environment variables of the commands it runs (`SetEnv`: sshd splits on whitespace and quotes, so values
   * must have neither). `HOME` is always `home`'s.
   */
  readonly env?: Readonly<Record<string, string>>
  /** Runs it inside this network namespace (`ip netns exec NAME`). */
  readonly netns?: string
  /**
   * An argv prefix it runs under, e.g. `["unshare", "--mount", "--uts", "--"]`. It must exec sshd in the same pid
   * namespace (no `--pid`): the server is stopped by the pid it writes.
   */
  readonly wrap?: ReadonlyArray<string>
  /** Extra lines appended to the generated sshd_config. */
  readonly extraConfig?: string
  /**
   * Let the kernel stop the server (TERM) if this process dies without closing its scope (`setpriv --pdeathsig`),
   * so a killed test run leaves no sshd behind. Off by default: a lab may be meant to outlive the command that
   * started it.
   */
  readonly dieWithParent?: boolean
}

/**
 * A running private sshd. Closing the scope that started it stops it (and its per-connection processes).
 *
 * @since 0.1.0
 * @category models
 */
export interface SshdHandle {
  readonly address: string
  readonly port: number
  /** The listener's pid (it changes after `restart`). */
  readonly pid: number
  readonly dir: string
  readonly configPath: string
  readonly logPath: string
  /** The host public key line (`ssh-ed25519 AAAA…`). */
  readonly hostPublicKey: string
  /** This server's line for a known_hosts file (`[address]:port ssh-ed25519 AAAA…`). */
  readonly knownHostsLine: string
  /** Stops the listener and its per-connection processes; safe to run twice. Commands they ran are left alone. */
  readonly stop: Effect.Effect<void>
  /** Starts it again (stopping it first if it runs) on the same address, port, directory and host key. */
  readonly restart: Effect.Effect<void, SshdError>
}

/**
 * Generates an ed25519 key pair without a passphrase at `path` (and `path.pub`), replacing any old one.
 *
 * @since 0.1.0
 * @category utils
 */
export const generateKeyPair: (path: string) => Effect.Effect<KeyPair, SshdError> = internal.generateKeyPair

/**
 * Starts a private sshd and waits until it accepts connections; the scope stops it.
 *
 * @since 0.1.0
 * @category utils
 */
export const start: (options: SshdOptions) => Effect.Effect<SshdHandle, SshdError, Scope.Scope> = internal.start
