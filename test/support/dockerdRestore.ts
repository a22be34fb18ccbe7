/**
 * Run by the guard of a private dockerd (see dockerd.ts) once the test worker that started it is gone without
 * stopping it: `node --import tsx test/support/dockerdRestore.ts <state file>` stops the daemon and puts back what
 * it changed on the host, unless the worker claimed the state first.
 */
import { restoreFromFile } from "./dockerd.js"

const [stateFile] = process.argv.slice(2)
if (stateFile !== undefined) restoreFromFile(stateFile)
