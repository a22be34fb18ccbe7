/**
 * A node on this machine: commands are local child processes, files are local files. The localhost cluster is
 * made of these; each node has its own working directory and its own loopback address.
 *
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"
import * as internal from "./internal/remote/local/backend.js"
import type { RemoteAccount } from "./RemoteAccount.js"

/**
 * How to make a local node.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalAccountOptions {
  /** The node's logical name, e.g. `worker1`. */
  readonly hostname: string
  /** The node's own working directory; created if missing. */
  readonly workdir: string
  /** The address services on this node bind to and others reach it at. Default 127.0.0.1. */
  readonly address?: string
}

/**
 * An account over local processes. The scope removes nothing: cleaning a node's files is the cluster's call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: LocalAccountOptions) => Effect.Effect<RemoteAccount, never, Scope.Scope> = internal.make
