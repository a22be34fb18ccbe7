/** The errors of remote accounts, in a module of their own: the machinery makes them without importing RemoteAccount.ts. */
import { Schema } from "effect"
import { causeLine } from "../shared/causeLine.js"

/** A command ran and exited with a non-zero status. `stderr` holds the tail of its error output. */
export class RemoteCommandError extends Schema.TaggedError<RemoteCommandError>()("RemoteCommandError", {
  host: Schema.String,
  user: Schema.String,
  command: Schema.String,
  exitCode: Schema.Number,
  stderr: Schema.String
}) {
  override get message(): string {
    const tail = this.stderr.trim()
    // A terminal's one-line summary shows only the first line: the line that says why goes there too.
    const cause = causeLine(tail.split("\n"))
    return `${this.user}@${this.host}: command ${JSON.stringify(this.command)} exited with status ${this.exitCode}` +
      (tail === "" || cause === undefined ? " (no error output)" : ` (it says ${JSON.stringify(cause)}); its output ends:\n${tail}`)
  }
}

/** A command did not finish within its timeout; it was killed (its whole process group). */
export class RemoteCommandTimeout extends Schema.TaggedError<RemoteCommandTimeout>()("RemoteCommandTimeout", {
  host: Schema.String,
  user: Schema.String,
  command: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `${this.user}@${this.host}: command ${JSON.stringify(this.command)} did not finish within ${this.timeout} ` +
      `and was killed; raise its \`timeout\` option if it legitimately needs longer`
  }
}

/** Why a connection could not be made or was lost. */
export const ConnectionFailure = Schema.Literal("refused", "auth", "timeout", "host-key", "unknown-host", "closed", "dns", "other")

/** @see ConnectionFailure */
export type ConnectionFailure = typeof ConnectionFailure.Type

const connectionHint: Record<ConnectionFailure, string> = {
  refused: "is sshd running on that host and port?",
  auth: "check the user and the key (identityfile) or password in the cluster definition",
  timeout: "is the host up and reachable from here? raise connectTimeout for slow links",
  "host-key": "the host key differs from the one known_hosts records: if the host was reinstalled, remove its old " +
    "line (ssh-keygen -R HOST -f KNOWN_HOSTS) and add the new key; otherwise someone may be in the way",
  "unknown-host": "the host is not in known_hosts: add its key (ssh-keyscan -p PORT HOST >> KNOWN_HOSTS), or set " +
    "strictHostKeyChecking: false for throw-away hosts",
  closed: "the connection dropped; the host may have rebooted or sshd restarted",
  dns: "the host name does not resolve; check hostname in the cluster definition",
  other: "see the detail above"
}

/**
 * A connection to a node could not be made, or was lost and could not be re-made. `cause`, when there is one, is
 * the lower error it was made from (ssh2's, a local spawn's), for a caller who needs more than `detail` says.
 */
export class RemoteConnectionError extends Schema.TaggedError<RemoteConnectionError>()("RemoteConnectionError", {
  host: Schema.String,
  port: Schema.Number,
  reason: ConnectionFailure,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `cannot reach ${this.host}:${this.port} (${this.reason}: ${this.detail}); ${connectionHint[this.reason]}`
  }
}

/**
 * A file operation failed: a missing path, a permission problem, a failed transfer. `cause`, when there is one, is
 * the lower error it was made from (an SFTP status, a Node fs error with its `code`).
 */
export class RemoteFileError extends Schema.TaggedError<RemoteFileError>()("RemoteFileError", {
  host: Schema.String,
  path: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `${this.host}:${this.path}: ${this.reason}`
  }
}
