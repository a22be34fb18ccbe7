import { Effect } from "effect"
import { isProcessId } from "../pid.js"

/**
 * Signals processes of this machine by pid, skipping any that are gone, and anything that is not a real pid
 * (see isProcessId).
 * @internal
 */
export const signal = (pids: ReadonlyArray<number>, sig: NodeJS.Signals): Effect.Effect<void> =>
  Effect.sync(() => {
    for (const pid of pids) {
      if (!isProcessId(pid)) continue
      try {
        process.kill(pid, sig)
      } catch {
        // already gone
      }
    }
  })

/** Signals the process group led by `pid` on this machine, if there is one (and `pid` is a real pid). */
export const signalGroup = (pid: number, sig: NodeJS.Signals): Effect.Effect<void> =>
  Effect.sync(() => {
    if (!isProcessId(pid)) return
    try {
      process.kill(-pid, sig)
    } catch {
      // already gone
    }
  })
