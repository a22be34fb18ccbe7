/**
 * The process entry of `ducktape`: runs the CLI, maps outcomes to exit codes, and handles Ctrl-C (and SIGTERM,
 * SIGHUP): the first interrupt stops scheduling, interrupts running tests, tears them down and writes reports; a second exits at once.
 */
// Not the package index: it loads the HTTP client and server too (~0.4 s more at every start).
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { main } from "./Cli.js"
import { enableTypeScript } from "./internal/userModule.js"

// Test files and cluster modules are the user's TypeScript; the framework itself is built JavaScript.
enableTypeScript()

const program = main(process.argv).pipe(Effect.provide(NodeContext.layer))
const fiber = Effect.runFork(program)

let interrupts = 0
const onSignal = (signal: NodeJS.Signals) => {
  interrupts++
  if (interrupts > 1) {
    process.stderr.write(`\n${signal} again: exiting now, without teardown\n`)
    process.exit(130)
  }
  process.stderr.write(`\n${signal}: stopping — tearing down running tests and writing reports (${signal} again to exit at once)\n`)
  Effect.runFork(Fiber.interrupt(fiber))
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)
// A closed terminal (or tmux kill-session) must tear down too, not leave services running; and writing progress
// to a terminal that is gone (EIO, EPIPE) must not crash the teardown.
process.on("SIGHUP", onSignal)
process.stdout.on("error", () => {})
process.stderr.on("error", () => {})

fiber.addObserver((exit) => {
  process.exitCode = exitCodeOf(exit)
  // Anything still pending (an ssh keepalive, a lingering stream) must not keep a finished run alive.
  setTimeout(() => process.exit(process.exitCode), 200).unref()
})

function exitCodeOf(exit: Exit.Exit<unknown, unknown>): number {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return interrupts > 0 ? 130 : 1
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const e = failure.value as { _tag?: string; code?: number; message?: string }
    if (e._tag === "ExitStatus") return e.code ?? 1
    // @effect/cli has already printed its own validation errors with help.
    if (e._tag === "UsageError" || e._tag === "LabError") process.stderr.write(`error: ${e.message}\n`)
    else if (typeof e._tag === "string" && e._tag.endsWith("Error") && e.message !== undefined) process.stderr.write(`error: ${e.message}\n`)
    return 2
  }
  process.stderr.write(`internal error (please report): ${Cause.pretty(exit.cause)}\n`)
  return 1
}
