import { Schema } from "effect"

/** A test ran out of time; its services were torn down before this was reported. */
export class TestTimeout extends Schema.TaggedError<TestTimeout>()("TestTimeout", {
  testId: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `test timed out after ${this.timeout} and was interrupted (its services were stopped and their logs ` +
      `collected); raise its timeout with Test.make({ timeout }) or --test-timeout if it needs longer`
  }
}

/** The run was interrupted while a test ran; the test was stopped and torn down. */
export class RunInterrupted extends Schema.TaggedError<RunInterrupted>()("RunInterrupted", {}) {
  override get message(): string {
    return "the run was interrupted (Ctrl-C / SIGTERM) while this test ran; it was stopped and its services torn down"
  }
}

/**
 * An exception no code caught (thrown in a timer or event callback, a promise rejected with nobody waiting) while
 * this test ran. All tests share one process, so which test threw it cannot be told: every test running then
 * fails with it, rather than the whole run dying without reports.
 */
export class UncaughtError extends Schema.TaggedError<UncaughtError>()("UncaughtError", {
  error: Schema.String,
  stack: Schema.String
}) {
  override get message(): string {
    return `an uncaught exception while this test ran: ${this.error} (thrown outside any Effect — a callback or an ` +
      `unawaited promise; every test running at that moment fails with it, as the process cannot tell whose it was)`
  }
}

/** Why a selection cannot be resolved: what is wrong, and what to do about it. */
export class DiscoveryError extends Schema.TaggedError<DiscoveryError>()("DiscoveryError", {
  problem: Schema.String,
  fix: Schema.String
}) {
  override get message(): string {
    return `${this.problem}\nfix: ${this.fix}`
  }
}

/** The results directory could not be created. */
export class ResultsDirError extends Schema.TaggedError<ResultsDirError>()("ResultsDirError", {
  path: Schema.String,
  reason: Schema.String,
  /** The file system's error. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `cannot create the results directory ${this.path}: ${this.reason}; choose another with --results-root`
  }
}
