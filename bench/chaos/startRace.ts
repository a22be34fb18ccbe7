/**
 * A leak the chaos runs can only hit by chance, measured directly: a process start interrupted at the wrong moment.
 *
 *   npx tsx bench/chaos/startRace.ts [--tries N]
 *
 * Starts `startProcess` and `spawnDaemon` commands on a local account (the same derived code as over ssh) and
 * interrupts each after 0–3 ms, then counts the processes still running. An interruption that lands before the
 * command's pid is known leaves the process behind: nothing can stop it, short of `ducktape clean` once the driver
 * is gone. Prints one JSON object with the survivors of each way of starting; each should be 0.
 */
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect, Fiber, type Scope } from "effect"
import * as LocalAccount from "../../src/LocalAccount.js"
import type { RemoteAccount } from "../../src/RemoteAccount.js"

const tries = Number(process.argv[process.argv.indexOf("--tries") + 1] ?? 150) || 150

/** Processes whose command line holds the marker, killed once counted (they are ours). */
const survivors = (marker: string) => {
  const pids = ChildProcess.spawnSync("pgrep", ["-f", marker], { encoding: "utf8" }).stdout.split("\n").filter((l) => /^\d+$/.test(l))
  for (const p of pids) process.kill(Number(p), "SIGKILL")
  return pids.length
}

/** Starts `start` `tries` times, interrupting it after 0–3 ms; counts what lived on. */
const race = (name: string, start: (marker: string) => Effect.Effect<unknown, unknown, Scope.Scope>) =>
  Effect.gen(function*() {
    const marker = `dt-start-race-${name}-${process.pid}`
    for (let i = 0; i < tries; i++) {
      const fiber = yield* Effect.fork(Effect.scoped(Effect.zipRight(start(marker), Effect.never)))
      yield* Effect.sleep(`${(i % 30) / 10} millis`)
      yield* Fiber.interrupt(fiber)
    }
    yield* Effect.sleep("500 millis")
    return survivors(marker)
  })

const main = Effect.scoped(Effect.gen(function*() {
  const workdir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "dt-start-race-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(workdir, { recursive: true, force: true })))
  const account: RemoteAccount = yield* LocalAccount.make({ hostname: "local", workdir })
  const line = (marker: string) => `exec sh -c 'sleep 600' ${marker}`
  const startProcess = yield* race("process", (m) => account.startProcess(line(m)))
  // spawnDaemon is not scoped: its daemon belongs to whoever records the pid (a pidFile, or acquireRelease as
  // below). Unrecorded, it survives by design — labelled, so `ducktape clean` finds it once the driver is gone.
  const spawnDaemon = yield* race("daemon", (m) => account.spawnDaemon(line(m)))
  const spawnDaemonAcquired = yield* race("acquired", (m) =>
    Effect.acquireRelease(account.spawnDaemon(line(m)), (pid) => Effect.ignore(account.killProcessGroup(pid))))
  process.stdout.write(JSON.stringify({ tries, survivors: { startProcess, spawnDaemon, spawnDaemonAcquired }, expected: 0 }) + "\n")
}))

Effect.runPromise(main)
