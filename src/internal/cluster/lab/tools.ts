// The lab (src/Lab.ts): running tools (ip, iptables, unshare) with bounded time, and writing files.
import type { PlatformError } from "@effect/platform/Error"
import * as ChildProcess from "node:child_process"
import { Duration, Effect, Option, Schedule } from "effect"
import * as Shell from "../../../Shell.js"
import { findExecutable, pathDirectories } from "../../shared/executables.js"
import { filesErrorText, withFiles } from "../../shared/files.js"
import { LabError } from "./errors.js"

// ---------------------------------------------------------------------------------------------------------
// Named schedules and limits
// ---------------------------------------------------------------------------------------------------------

/** How often to look whether ended processes are gone. */
export const processExitPoll = Schedule.spaced("20 millis")
export const termGrace = Duration.seconds(1)
export const killWait = Duration.seconds(3)
export const commandTimeout = Duration.seconds(30)
export const defaultDownTimeout = Duration.seconds(30)

// ---------------------------------------------------------------------------------------------------------
// Running tools
// ---------------------------------------------------------------------------------------------------------

export const searchPath = (): ReadonlyArray<string> =>
  // root's PATH from some shells lacks the sbin directories where ip, iptables and sshd live.
  [...pathDirectories(), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]

export const toolEnv = (): NodeJS.ProcessEnv => ({ PATH: searchPath().join(":"), LC_ALL: "C" })

export interface Tools {
  readonly ip: string
  readonly iptables: Option.Option<string>
  readonly unshare: string
}

export const findTool = (name: string): Effect.Effect<Option.Option<string>> =>
  Effect.sync(() => Option.fromNullable(findExecutable(name, searchPath())))

export const checkRoot = (lab: string) =>
  process.getuid?.() === 0
    ? Effect.void
    : Effect.fail(
      new LabError({ lab, reason: "not-root", detail: `running as uid ${process.getuid?.() ?? "?"}, not root` })
    )

export const requireTool = (lab: string, name: string) =>
  Effect.flatMap(findTool(name), (found) =>
    Option.match(found, {
      onSome: Effect.succeed,
      onNone: () =>
        Effect.fail(new LabError({ lab, reason: "missing-tool", detail: `\`${name}\` was not found on the PATH` }))
    }))

/** Everything `up` needs, checked before anything is made so a missing tool fails cleanly. */
export const preflight = (lab: string) =>
  Effect.gen(function*() {
    yield* checkRoot(lab)
    // sshd and ssh-keygen are run by Sshd.start; checked here so the error names every package at once.
    const [ip, iptables, unshare] = yield* Effect.all([
      requireTool(lab, "ip"),
      requireTool(lab, "iptables"),
      requireTool(lab, "unshare"),
      requireTool(lab, "ssh-keygen"),
      requireTool(lab, "sshd")
    ], { concurrency: "unbounded" })
    const tools: Tools = { ip, iptables: Option.some(iptables), unshare }
    return tools
  })

export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

// Bounds here never rely on interrupting a fiber: `down` runs in scope finalizers, where nothing can be interrupted,
// so each command carries its own kill timer and each wait ends by its own schedule.
export const run = (lab: string, argv: ReadonlyArray<string>, stdin?: string): Effect.Effect<Ran, LabError> => {
  const [file, ...args] = argv
  if (file === undefined) return Effect.die("empty argv")
  return Effect.async<Ran, LabError>((resume) => {
    const child = ChildProcess.execFile(
      file,
      args,
      {
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
        env: toolEnv(),
        timeout: Duration.toMillis(commandTimeout),
        killSignal: "SIGKILL"
      },
      (error, stdout, stderr) => {
        if (error === null) return resume(Effect.succeed({ code: 0, stdout, stderr }))
        if (typeof error.code === "number") return resume(Effect.succeed({ code: error.code, stdout, stderr }))
        if (error.killed === true) {
          return resume(Effect.fail(
            new LabError({
              lab,
              reason: "timeout",
              detail: `${Shell.join(argv)} did not finish within ${Duration.format(commandTimeout)}`
            })
          ))
        }
        if (error.signal) return resume(Effect.succeed({ code: 128, stdout, stderr: `${stderr}killed by ${error.signal}` }))
        resume(Effect.fail(new LabError({ lab, reason: "command-failed", detail: `${Shell.join(argv)}: ${error.message}`, cause: error })))
      }
    )
    child.stdin?.on("error", () => {})
    child.stdin?.end(stdin)
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })
}

export const failed = (lab: string, argv: ReadonlyArray<string>, ran: Ran, stdin?: string) =>
  new LabError({
    lab,
    reason: "command-failed",
    detail: `${Shell.join(argv)}${stdin === undefined ? "" : ` with input:\n${stdin.trimEnd()}\n`} exited with status ` +
      `${ran.code}: ${ran.stderr.trim() || "(no error output)"}`
  })

export const runOk = (lab: string, argv: ReadonlyArray<string>, stdin?: string): Effect.Effect<string, LabError> =>
  Effect.flatMap(run(lab, argv, stdin), (ran) =>
    ran.code === 0 ? Effect.succeed(ran.stdout) : Effect.fail(failed(lab, argv, ran, stdin)))

// ---------------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------------

const fileError = (lab: string, what: string) => (e: PlatformError) =>
  new LabError({ lab, reason: "command-failed", detail: `${what}: ${filesErrorText(e)}`, cause: e })

export const writeFile = (lab: string, path: string, data: string, mode = 0o644) =>
  withFiles((fs) => fs.writeFileString(path, data, { mode })).pipe(Effect.mapError(fileError(lab, `writing ${path}`)))

export const mkdirs = (lab: string, paths: ReadonlyArray<string>) =>
  withFiles((fs) =>
    Effect.forEach(paths, (p) => fs.makeDirectory(p, { recursive: true }), { concurrency: "unbounded", discard: true })
  ).pipe(Effect.mapError(fileError(lab, "creating directories")))

/** A file's text, or none when it cannot be read (gone, say: a lab's state is read to learn whether it exists). */
export const readText = (path: string): Effect.Effect<Option.Option<string>> =>
  withFiles((fs) => fs.readFileString(path)).pipe(Effect.option)

export const tail = (text: string, lines: number) => text.trimEnd().split("\n").slice(-lines).join("\n")
