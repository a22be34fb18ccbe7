/**
 * LogMonitor on every backend: lines written after the monitor was made, files that appear later, rotation,
 * truncation, counting, and a timeout that says what the file did say.
 */
import * as NodePath from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { RemoteAccount } from "../src/RemoteAccount.js"
import * as Shell from "../src/Shell.js"
import * as Backends from "./support/backends.js"

let counter = 0
/** A fresh log path in the node's workdir. */
const logPath = (a: RemoteAccount) =>
  Effect.gen(function*() {
    const dir = a.resolve(`logs-${process.pid}-${++counter}`)
    yield* a.mkdirs(dir)
    return NodePath.posix.join(dir, "service.log")
  })

/** Appends lines to a remote file the way a service would (open, write, close). */
const append = (a: RemoteAccount, path: string, ...lines: ReadonlyArray<string>) =>
  a.ssh(`printf '%s\\n' ${Shell.join(lines)} >> ${Shell.quote(path)}`)

for (const [name, backendLayer] of Backends.all) {
  layer(backendLayer, { excludeTestServices: true, timeout: "30 seconds" })(`LogMonitor (${name})`, (it) => {
    it.effect("sees lines written after it was made, not those before", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const path = yield* logPath(a)
        yield* append(a, path, "starting", "READY (old run)")
        const monitor = yield* a.monitorLog(path)
        expect(monitor.offset).toBeGreaterThan(0)
        const waiting = yield* Effect.fork(monitor.waitUntil("READY", { timeout: "10 seconds" }))
        yield* append(a, path, "loading", "READY (new run)")
        expect(yield* Fiber.join(waiting)).toEqual(["READY (new run)"])
        // A RegExp works too, and the lines stream from the same offset.
        expect(yield* monitor.waitUntil(/^load/, { timeout: "10 seconds" })).toEqual(["loading"])
        const lines = yield* monitor.lines.pipe(Stream.take(2), Stream.runCollect)
        expect([...lines]).toEqual(["loading", "READY (new run)"])
      }))

    it.effect("waits for a file that does not exist yet", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const path = yield* logPath(a)
        const monitor = yield* a.monitorLog(path)
        expect(monitor.offset).toBe(0)
        const waiting = yield* Effect.fork(monitor.waitUntil("bound to port", { timeout: "10 seconds" }))
        yield* Effect.sleep("200 millis")
        yield* append(a, path, "hello", "bound to port 9092")
        expect(yield* Fiber.join(waiting)).toEqual(["bound to port 9092"])
      }))

    it.effect("follows a rotated file (moved away, a new one created)", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const path = yield* logPath(a)
        yield* append(a, path, "first generation")
        const monitor = yield* a.monitorLog(path)
        const waiting = yield* Effect.fork(monitor.waitUntil("second generation", { timeout: "10 seconds" }))
        yield* Effect.sleep("200 millis")
        yield* a.ssh(["mv", path, `${path}.1`])
        yield* append(a, path, "second generation")
        expect(yield* Fiber.join(waiting)).toEqual(["second generation"])
      }))

    it.effect("follows a truncated file", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const path = yield* logPath(a)
        yield* append(a, path, "a long line from before the truncation, longer than what follows it")
        const monitor = yield* a.monitorLog(path)
        const waiting = yield* Effect.fork(monitor.waitUntil("after", { timeout: "10 seconds" }))
        yield* Effect.sleep("200 millis")
        yield* a.ssh(`: > ${Shell.quote(path)}`)
        // tail notices a truncation by the size going down: give it that moment before the file grows again.
        yield* Effect.sleep("300 millis")
        yield* append(a, path, "after")
        expect(yield* Fiber.join(waiting)).toEqual(["after"])
      }))

    it.effect("waits for a number of matching lines", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const path = yield* logPath(a)
        yield* append(a, path, "x")
        const monitor = yield* a.monitorLog(path)
        const waiting = yield* Effect.fork(monitor.waitUntil("joined", { timeout: "10 seconds", count: 3 }))
        yield* append(a, path, "node 1 joined", "noise")
        yield* append(a, path, "node 2 joined")
        yield* Effect.sleep("100 millis")
        yield* append(a, path, "node 3 joined", "node 4 joined")
        expect(yield* Fiber.join(waiting)).toEqual(["node 1 joined", "node 2 joined", "node 3 joined"])
      }))

    it.effect("times out with LogMonitorTimeout that shows the last lines", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const path = yield* logPath(a)
        const monitor = yield* a.monitorLog(path)
        yield* append(a, path, "starting up", "ERROR: cannot bind")
        const error = yield* Effect.flip(
          monitor.waitUntil("started", { timeout: "700 millis", errMsg: "the service did not start" })
        )
        expect(error._tag).toBe("LogMonitorTimeout")
        if (error._tag !== "LogMonitorTimeout") return
        expect(error.lastLines).toEqual(["starting up", "ERROR: cannot bind"])
        expect(error.message).toContain("the service did not start")
        expect(error.message).toContain("ERROR: cannot bind")
        expect(error.message).toContain(path)
        // Nothing written at all says so.
        const quiet = yield* a.monitorLog(`${path}.quiet`)
        const silent = yield* Effect.flip(quiet.waitUntil("started", { timeout: "300 millis" }))
        expect(silent.message).toContain("nothing was written")
      }))

    it.effect("a long log's timeout shows its first lines too, and names the cause on its first line", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const path = yield* logPath(a)
        const monitor = yield* a.monitorLog(path)
        const usage = Array.from({ length: 40 }, (_, i) => `  --option-${i} value   what option ${i} does`)
        yield* append(a, path, "flag provided but not defined: -bogus", "Usage: etcd [flags]", ...usage)
        const error = yield* Effect.flip(monitor.waitUntil("serving", { timeout: "700 millis" }))
        if (error._tag !== "LogMonitorTimeout") return expect.unreachable(error._tag)
        expect(error.firstLines?.[0]).toBe("flag provided but not defined: -bogus")
        expect(error.lastLines.at(-1)).toBe(usage.at(-1))
        const firstLine = error.message.split("\n")[0]!
        expect(firstLine).toContain("flag provided but not defined: -bogus")
        expect(error.message).toContain("lines not shown")
      }))

    it.effect("whileAlive: a daemon that dies at once fails the wait at once, with its exit status and first line", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const path = yield* logPath(a)
        const monitor = yield* a.monitorLog(path)
        const pid = yield* a.spawnDaemon("echo 'flag provided but not defined: -bogus'; sleep 0.3; exit 2", { logFile: path })
        const started = Date.now()
        const error = yield* Effect.flip(monitor.waitUntil("serving", { timeout: "20 seconds", whileAlive: pid }))
        const took = Date.now() - started
        if (error._tag !== "LogMonitorProcessExited") return expect.unreachable(error.message)
        expect(error.pid).toBe(pid)
        expect(error.exitCode).toBe(2)
        expect(error.message.split("\n")[0]).toContain("exited with status 2")
        expect(error.message.split("\n")[0]).toContain("flag provided but not defined")
        // Far below the 20 s timeout (the bound is loose: the machine is shared).
        expect(took).toBeLessThan(10_000)
        console.log(`whileAlive: daemon exit noticed ${took} ms after the wait began (it lived ~300 ms)`)
        // A daemon that lives and writes the line: the wait succeeds as before.
        const live = yield* a.spawnDaemon("sleep 0.2; echo serving now; exec sleep 30", { logFile: path })
        expect(yield* monitor.waitUntil("serving", { timeout: "10 seconds", whileAlive: live })).toEqual(["serving now"])
        yield* a.killProcessGroup(live)
      }))
  })
}
