/**
 * Whether a number is a pid that may be signalled: a whole number above 1. `kill 0` is the caller's own group,
 * `kill -1` every process the user may signal (as root, the whole machine) and 1 is init — never ours to stop.
 * @internal
 */
export const isProcessId = (pid: number): boolean => Number.isInteger(pid) && pid > 1
