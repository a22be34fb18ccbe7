/**
 * What must still happen when the process exits at once (a second Ctrl-C): writing reports synchronously, saying
 * how to clean up. Registered by the command that runs; run by src/bin.ts.
 */
const actions = new Set<() => void>()

/** Registers an action for a hard exit; returns its removal. */
export const onHardExit = (action: () => void): (() => void) => {
  actions.add(action)
  return () => {
    actions.delete(action)
  }
}

/** Runs every registered action; one that throws does not stop the others. */
export const runHardExit = (): void => {
  for (const action of actions) {
    try {
      action()
    } catch {
      // exiting anyway
    }
  }
}
