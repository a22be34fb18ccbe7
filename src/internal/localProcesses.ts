import { Effect } from "effect"

/**
 * Signals processes of this machine by pid, skipping any that are gone. Only real pids: 0, -1 and 1 would signal
 * the caller's group, every process, or init — never a process of ours.
 * @internal
 */
export const signal = (pids: ReadonlyArray<number>, sig: NodeJS.Signals): Effect.Effect<void> =>
  Effect.sync(() => {
    for (const pid of pids) {
      if (!Number.isInteger(pid) || pid <= 1) continue
      try {
        process.kill(pid, sig)
      } catch {
        // already gone
      }
    }
  })
