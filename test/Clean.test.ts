import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Clean from "../src/Clean.js"
import * as Cluster from "../src/Cluster.js"
import { isAlive } from "./support/processes.js"

const repo = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..")


const waitFor = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting")
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("Clean", () => {
  it.live("removes the processes and scratch directory of a session killed with SIGKILL, and nothing live", () =>
    Effect.gen(function*() {
      // Inside the repository, so the fixture resolves `effect` and loads as an ES module.
      NodeFs.mkdirSync(NodePath.join(repo, ".test-tmp"), { recursive: true })
      const dir = NodeFs.mkdtempSync(NodePath.join(repo, ".test-tmp", "clean-"))
      const pidFile = NodePath.join(dir, "daemon.pid")
      // A real run whose test starts a daemon through a service and then hangs.
      NodeFs.writeFileSync(
        NodePath.join(dir, "hang.ducktape.ts"),
        `import { Effect } from "effect"
import { Service, Test } from ${JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "src/index.ts")).href)}
const Daemon = Service.make({
  name: "daemon",
  startNode: (node) => Effect.flatMap(node.account.spawnDaemon("exec sleep 600"), (pid) =>
    node.account.createFile(${JSON.stringify(pidFile)}, String(pid)))
})
export const Hang = Test.suite("Hang", { hang: Test.make(() => Effect.zipRight(Daemon.start(), Effect.never)) })
`
      )
      const driver = ChildProcess.spawn(process.execPath, [NodePath.join(repo, "bin/ducktape.js"), "hang.ducktape.ts", "--cluster", "localhost:1", "--results-root", "results"], {
        cwd: dir,
        stdio: "ignore"
      })
      yield* Effect.promise(() => waitFor(() => NodeFs.existsSync(pidFile) && NodeFs.readFileSync(pidFile, "utf8") !== "", 60_000))
      const daemon = Number(NodeFs.readFileSync(pidFile, "utf8"))
      expect(isAlive(daemon)).toBe(true)
      const scratch = NodeFs.readdirSync(NodeOs.tmpdir()).filter((n) => n.startsWith(`ducktape-localhost-${driver.pid}-`))
      expect(scratch).toHaveLength(1)
      driver.kill("SIGKILL")
      yield* Effect.promise(() => waitFor(() => driver.exitCode !== null || driver.signalCode !== null, 10_000))
      // No scope could run: the daemon survived its driver.
      expect(isAlive(daemon)).toBe(true)

      // A live process of ours, labelled with this (live) test process, must be left alone.
      const live = ChildProcess.spawn("sleep", ["600"], {
        env: { ...process.env, DUCKTAPE_SESSION: Clean.labelFor("live-session") },
        stdio: "ignore"
      })

      const found = yield* Effect.flatMap(Cluster.Cluster, (c) => Clean.clean(c.all, { dryRun: true })).pipe(
        Effect.provide(Cluster.localhost({ numNodes: 2 }))
      )
      const mine = found.filter((l) => l.label.includes(`/${driver.pid}`) || l.what.includes(`-${driver.pid}-`))
      expect(mine.map((l) => l.kind).sort()).toEqual(["directory", "process"])
      expect(mine.find((l) => l.kind === "process")!.what).toContain(`pid ${daemon}`)
      expect(found.some((l) => l.what.includes(`pid ${live.pid}:`))).toBe(false)
      expect(isAlive(daemon)).toBe(true) // a dry run removes nothing

      yield* Effect.flatMap(Cluster.Cluster, (c) => Clean.clean(c.all)).pipe(Effect.provide(Cluster.localhost({ numNodes: 1 })))
      yield* Effect.promise(() => waitFor(() => !isAlive(daemon), 5_000))
      expect(NodeFs.existsSync(NodePath.join(NodeOs.tmpdir(), scratch[0]!))).toBe(false)
      expect(isAlive(live.pid!)).toBe(true)
      live.kill("SIGKILL")
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }), 120_000)
})
