/** The errors of clusters, in a module of their own: the machinery makes them without importing Cluster.ts. */
import { Schema } from "effect"

/** A request cannot be met by the nodes there are; nothing was allocated. */
export class InsufficientResources extends Schema.TaggedError<InsufficientResources>()("InsufficientResources", {
  requested: Schema.String,
  available: Schema.String
}) {
  override get message(): string {
    return `not enough nodes: requested ${this.requested}; available ${this.available}`
  }
}

/** A cluster definition cannot be used: a malformed file, an unknown field value, an unreachable node. */
export class ClusterConfigError extends Schema.TaggedError<ClusterConfigError>()("ClusterConfigError", {
  source: Schema.String,
  problem: Schema.String,
  fix: Schema.String
}) {
  override get message(): string {
    return `${this.source}: ${this.problem}\n  fix: ${this.fix}`
  }
}

/** Nodes that could not be reached when the cluster was opened, with each one's reason. */
export class UnreachableNodes extends Schema.TaggedError<UnreachableNodes>()("UnreachableNodes", {
  nodes: Schema.Array(Schema.Struct({ name: Schema.String, reason: Schema.String }))
}) {
  override get message(): string {
    // Nodes that fail alike (eight aliases of one sshd that is down) share one line.
    const byReason = new Map<string, Array<string>>()
    for (const n of this.nodes) byReason.set(n.reason, [...(byReason.get(n.reason) ?? []), n.name])
    return `${this.nodes.length} node(s) cannot be reached:\n` +
      [...byReason].map(([reason, names]) => `  ${names.join(", ")}: ${reason}`).join("\n")
  }
}

/** Why a private sshd could not be set up or started. */
export const SshdFailure = Schema.Literal("missing", "keygen", "io", "port-in-use", "start-failed", "timeout")

/** @see SshdFailure */
export type SshdFailure = typeof SshdFailure.Type

const sshdHint: Record<SshdFailure, string> = {
  missing: "install it with `apt-get install -y openssh-server`",
  keygen: "ssh-keygen failed; is openssh-client installed (`apt-get install -y openssh-client`)?",
  io: "check that the directory is writable",
  "port-in-use": "another process listens on that address and port; pick another port or leave it to us (port 0)",
  "start-failed": "see the lines of sshd's log above",
  timeout: "sshd did not accept connections in time; see its log"
}

/** A private sshd could not be set up, started or stopped. */
export class SshdError extends Schema.TaggedError<SshdError>()("SshdError", {
  reason: SshdFailure,
  detail: Schema.String,
  /** The end of sshd's own log, when it has one. */
  logTail: Schema.optional(Schema.String),
  /** The lower-level error this one was made from (a file system or spawn error), when there was one. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const log = this.logTail === undefined || this.logTail.trim() === "" ? "" : `\nsshd log:\n${this.logTail.trim()}`
    return `private sshd (${this.reason}): ${this.detail}; ${sshdHint[this.reason]}${log}`
  }
}
