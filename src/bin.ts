/**
 * The process entry of `ducktape`: runs the CLI, maps outcomes to exit codes, and handles Ctrl-C (and SIGTERM,
 * SIGHUP): the first interrupt stops scheduling, interrupts running tests, tears them down and writes reports; a
 * second exits at once, still writing the reports and saying how to clean up what was left running.
 *
 * `--help` and `--version` are answered before Effect, @effect/cli or the runner are loaded.
 */
import { helpOrVersion } from "./internal/cli/help.js"

const quick = helpOrVersion(process.argv.slice(2))
if (quick !== undefined) process.stdout.write(quick)
else await run()

async function run(): Promise<void> {
  // Test files and cluster modules are the user's TypeScript; the framework itself is built JavaScript.
  const { enableTypeScript } = await import("./internal/runner/discovery/userModule.js")
  enableTypeScript()
  // Not the package index: it loads the HTTP client and server too (~0.4 s more at every start).
  const [NodeContext, { Cause, Effect, Exit, Fiber, Option }, { isValidationError }, { main }, { runHardExit }] = await Promise.all([
    import("@effect/platform-node/NodeContext"),
    import("effect"),
    import("@effect/cli/ValidationError"),
    import("./Cli.js"),
    import("./internal/cli/hardExit.js")
  ])

  const program = main(process.argv).pipe(Effect.provide(NodeContext.layer))
  const fiber = Effect.runFork(program)

  let interrupts = 0
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++
    if (interrupts > 1) {
      process.stderr.write(`\n${signal} again: exiting now, without teardown\n`)
      runHardExit()
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

  const exitCodeOf = (exit: import("effect").Exit.Exit<unknown, unknown>): number => {
    if (Exit.isSuccess(exit)) return 0
    if (Cause.isInterruptedOnly(exit.cause)) return interrupts > 0 ? 130 : 1
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) {
      const e = failure.value as { readonly _tag?: unknown; readonly code?: unknown; readonly exitCode?: unknown; readonly message?: unknown }
      if (e._tag === "ExitStatus" && typeof e.code === "number") return e.code
      // CLI-facing errors carry their exit code (UsageError: 2) and a message with the fix.
      if (typeof e.exitCode === "number") {
        process.stderr.write(`error: ${String(e.message)}\n`)
        return e.exitCode
      }
      // @effect/cli has already printed its own validation errors.
      if (isValidationError(failure.value)) return 2
    }
    process.stderr.write(`internal error (please report): ${Cause.pretty(exit.cause)}\n`)
    return 1
  }

  fiber.addObserver((exit) => {
    process.exitCode = exitCodeOf(exit)
    // Anything still pending (an ssh keepalive, a lingering stream) must not keep a finished run alive.
    setTimeout(() => process.exit(process.exitCode), 200).unref()
  })
}
