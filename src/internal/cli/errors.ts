import { Schema } from "effect"

/** A problem with how the command was invoked or configured: exit code 2. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  problem: Schema.String,
  fix: Schema.String
}) {
  /** The process's exit code when a command ends with this. */
  readonly exitCode = 2
  override get message(): string {
    return this.fix === "" ? this.problem : `${this.problem}\n  fix: ${this.fix}`
  }
}

/** What a command handler ends with: the exit code the process should have. */
export class ExitStatus extends Schema.TaggedError<ExitStatus>()("ExitStatus", { code: Schema.Number }) {}
