import * as ChildProcess from "node:child_process"
import * as NodePath from "node:path"
import { Effect } from "effect"

/** How a CLI run ended. */
export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI the way a user does, in a child process of this checkout; interrupting the test kills it. */
export const ducktape = (args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>> = {}) =>
  Effect.async<Ran>((resume) => {
    const child = ChildProcess.execFile(
      process.execPath,
      ["bin/ducktape.js", ...args],
      { cwd: NodePath.resolve("."), env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 255, stdout, stderr }))
    )
    return Effect.sync(() => child.kill("SIGINT"))
  })
