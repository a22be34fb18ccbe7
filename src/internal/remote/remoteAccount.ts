/**
 * `RemoteAccount.make`: a whole account derived from a backend's small core, once for every backend. Each job
 * lives in a module of its own (the command line, commands, processes, daemons, signals, files, tree copies,
 * HTTP waits); this one only puts them together, handing each the backend and the commands it builds on.
 */
import type * as RA from "../../RemoteAccount.js"
import * as Commands from "./account/commands.js"
import * as CommandLine from "./account/commandLine.js"
import * as Copies from "./account/copies.js"
import * as Daemons from "./account/daemons.js"
import * as Files from "./account/files.js"
import * as Http from "./account/http.js"
import * as Signals from "./account/signals.js"
import * as logMonitor from "./logMonitor.js"

export { ambientEnv, currentLabel, labelVariable, serviceVariable } from "./account/commandLine.js"

/** @internal */
export const make = (backend: RA.Backend): RA.RemoteAccount => {
  const id = backend.identity
  const commands = Commands.make(backend)
  const copier = Copies.make(backend, commands)
  const account: RA.RemoteAccount = {
    ...id,
    backend,
    label: `${id.user}@${id.hostname}`,
    resolve: (path) => CommandLine.resolve(id, path),
    ...commands,
    spawnDaemon: (command, options) => Daemons.spawnDaemon(id, commands, command, options),
    killProcessGroup: (pid, options) => Daemons.killProcessGroup(commands, pid, options),
    pids: (pattern) => Signals.pids(commands, pattern),
    alive: (pid) => Signals.alive(commands, pid),
    signal: (pid, sig) => Signals.signal(commands, pid, sig),
    killProcess: (pattern, options) => Signals.killProcess(commands, pattern, options),
    ...Files.make(backend, commands),
    copyTo: (localPath, remotePath) => Copies.copyTo(copier, localPath, remotePath),
    copyFrom: (remotePath, localPath) => Copies.copyFrom(copier, remotePath, localPath),
    copyBetween: (remotePath, destination, destinationPath) => Copies.copyBetween(copier, remotePath, destination, destinationPath),
    monitorLog: (path, options) => logMonitor.make(account, path, options),
    waitForHttp: (port, options) => Http.waitForHttp(id, port, options)
  }
  return account
}
