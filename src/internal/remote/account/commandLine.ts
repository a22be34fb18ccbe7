/**
 * The line a RemoteAccount hands its backend for every command, in one place: every command must print its pid
 * first (so that it can be stopped: without a pty a remote process survives its channel), start in the node's
 * workdir, and carry the session label that `ducktape clean` looks for. Commands, processes and daemons all go
 * through `prepare`.
 */
import * as NodePath from "node:path"
import type { Readable } from "node:stream"
import { Effect, FiberRef } from "effect"
import type * as RA from "../../../RemoteAccount.js"
import * as Shell from "../../../Shell.js"
import { encoder } from "../bytes.js"
import { pidLinePrefix } from "../pid.js"

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Command options as the account uses them inside: stdin may also be a readable (tree copies pipe tar through). */
export type Input = Omit<RA.CommandOptions, "stdin"> & { readonly stdin?: string | Uint8Array | Readable }

/** The environment variable that marks every process the framework starts with its session. */
export const labelVariable = "DUCKTAPE_SESSION"

/** The environment variable marking what a service's node start runs (see internal/service.ts's stopLeftovers). */
export const serviceVariable = "DUCKTAPE_SERVICE"

/** The session label of commands run by the current fiber (set by the runner for each test). */
export const currentLabel: FiberRef.FiberRef<string | undefined> = FiberRef.unsafeMake<string | undefined>(undefined)

/** Environment every command of the current fiber gets, under its own `env` (e.g. --enable-jvm-logs' JVM options). */
export const ambientEnv: FiberRef.FiberRef<Readonly<Record<string, string>>> = FiberRef.unsafeMake<Readonly<Record<string, string>>>({})

/** A path relative to the node's workdir, made absolute. */
export const resolve = (identity: RA.Identity, path: string): string => NodePath.posix.resolve(identity.workdir, path)

/**
 * The line every command is wrapped in: print our pid (the session and process-group leader), go to the working
 * directory, then `exec` the user's line so that pid stays the one that runs it.
 */
const wrap = (line: string, cwd: string, options: Input, label: string | undefined, ambient: Readonly<Record<string, string>>): string => {
  const env = Object.entries({ ...ambient, ...options.env, ...(label === undefined ? {} : { [labelVariable]: label }) })
    .map(([k, v]) => `${k}=${v}`)
  const envPart = env.length > 0 ? `env ${Shell.join(env)} ` : ""
  const redirect = options.mergeStderr === true ? " 2>&1" : ""
  return `${pidLinePrefix}cd ${Shell.quote(cwd)} && exec ${envPart}/bin/sh -c ${Shell.quote(line)}${redirect}`
}

/** The wrapped line and stdin bytes of a command; an invalid env name is a defect of the caller. */
export const prepare = (identity: RA.Identity, line: string, options: Input) =>
  Effect.flatMap(Effect.zip(FiberRef.get(currentLabel), FiberRef.get(ambientEnv)), ([sessionLabel, ambient]) => {
    const badName = Object.keys(options.env ?? {}).find((k) => !envName.test(k))
    if (badName !== undefined) {
      return Effect.dieMessage(`env: ${JSON.stringify(badName)} is not a valid environment variable name`)
    }
    const stdin = options.stdin === undefined
      ? undefined
      : typeof options.stdin === "string"
      ? encoder.encode(options.stdin)
      : options.stdin
    return Effect.succeed({ wrapped: wrap(line, resolve(identity, options.cwd ?? "."), options, sessionLabel, ambient), stdin })
  })
