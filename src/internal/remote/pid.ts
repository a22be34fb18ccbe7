import { Effect } from "effect"

/**
 * Whether a number is a pid that may be signalled: a whole number above 1. `kill 0` is the caller's own group,
 * `kill -1` every process the user may signal (as root, the whole machine) and 1 is init — never ours to stop.
 * @internal
 */
export const isProcessId = (pid: number): boolean => Number.isInteger(pid) && pid > 1

/** `kill`'s argument for the process group led by `pid`; anything but a real pid is refused (see isProcessId). */
export const groupOf = (pid: number): Effect.Effect<string> =>
  isProcessId(pid)
    ? Effect.succeed(`-${pid}`)
    : Effect.dieMessage(`refusing to signal process group ${pid}: not the pid of a process this account started`)

/**
 * How every line RemoteAccount hands a backend begins: the shell prints its own pid (the session and
 * process-group leader) before anything else. A backend that loses its caller before the caller could read that
 * line (an interruption while the command started) reads it itself, to stop what it started.
 * @internal
 */
export const pidLinePrefix = "echo $$; "

/** The pid a first line reports, if it is exactly one. */
export const pidOfLine = (line: string): number | undefined => {
  if (!/^\d+$/.test(line)) return undefined
  const pid = Number(line)
  return isProcessId(pid) ? pid : undefined
}
