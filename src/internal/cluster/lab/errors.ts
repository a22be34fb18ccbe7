// The lab's errors, in a module of their own: the lab's machinery creates them and src/Lab.ts re-exports them,
// so neither has to import the other at runtime.
import { Schema } from "effect"

/** Why a lab could not be brought up or taken down. */
export const LabFailure = Schema.Literal(
  "not-root",
  "missing-tool",
  "invalid-options",
  "subnet-in-use",
  "dir-in-use",
  "command-failed",
  "sshd-failed",
  "timeout"
)
/** @see LabFailure */
export type LabFailure = typeof LabFailure.Type

/** The tools the lab needs, and the Debian packages that bring them. */
export const installHint = "apt-get install -y openssh-server iptables iproute2"

const hints: Record<LabFailure, string> = {
  "not-root": "network namespaces, bridges and bind mounts need root; run as root",
  "missing-tool": `install the tools with \`${installHint}\``,
  "invalid-options": "fix the lab options",
  "subnet-in-use": "pass another `subnet` (e.g. 10.201.<k>.0/24 with a free <k>) or take down the lab using it",
  "dir-in-use": "take that lab down first (`down({ dir })`) or use another `dir`",
  "command-failed": "see the command's error output above",
  "sshd-failed": "see the sshd log excerpt above",
  timeout: "the machine may be overloaded; retry, or take the lab down and up again"
}

/** A lab could not be brought up or taken down; nothing of a failed `up` is left behind. */
export class LabError extends Schema.TaggedError<LabError>()("LabError", {
  lab: Schema.String,
  reason: LabFailure,
  detail: Schema.String,
  /** The lower-level error this one was made from (a file system or spawn error), when there was one. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `lab ${JSON.stringify(this.lab)}: ${this.detail} (${hints[this.reason]})`
  }
}
