import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Option, Schedule, Stream } from "effect"
import * as Cluster from "../src/Cluster.js"
import type { ClusterNode } from "../src/Cluster.js"
import * as Docker from "../src/Docker.js"
import * as Fault from "../src/Fault.js"
import * as Engine from "../src/internal/cluster/docker/engine.js"
import * as Image from "../src/internal/cluster/docker/image.js"
import * as Dockerd from "./support/dockerd.js"
import { ducktape } from "./support/cli.js"
import * as Packed from "./support/packedProject.js"
import { processesRunning } from "./support/processes.js"
import * as SshdSupport from "./support/sshd.js"

// One private dockerd for the whole file (its data root, with the built node image, is kept between runs).
class DaemonTag extends Context.Tag("test/PrivateDockerd")<DaemonTag, Dockerd.PrivateDockerd>() {}
const Daemon = Layer.scoped(DaemonTag, Dockerd.start({ name: "main" }))

// Three nodes: two untyped, one of a type of our own with limits we can see in its cgroup files.
const nodeTypes = { tiny: { cpus: 0.25, memory: "300m" } }
const DockerCluster = Layer.unwrapEffect(
  Effect.map(DaemonTag, (d) =>
    Docker.layer({ nodes: [{ numNodes: 2 }, { numNodes: 1, nodeType: "tiny" }], nodeTypes, endpoints: [d.host] }))
).pipe(Layer.provideMerge(Daemon))

const nodes = Effect.map(Cluster.Cluster, (c) => c.all as readonly [ClusterNode, ClusterNode, ClusterNode])

const repo = NodePath.resolve(NodePath.dirname(new URL(import.meta.url).pathname), "..")

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const sh = (argv: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = 300_000): Ran => {
  const r = ChildProcess.spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, ...env }, timeout: timeoutMs, cwd: repo })
  return { code: r.status ?? 255, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}

const docker = (host: string, ...args: Array<string>) => sh(["/usr/bin/docker", "-H", host, ...args])

/** Containers and networks a run left, by its label. */
const countByLabel = (host: string, label: string) => {
  const containers = docker(host, "ps", "-aq", "--filter", `label=${label}`).stdout.split("\n").filter((l) => l !== "").length
  const networks = docker(host, "network", "ls", "-q", "--filter", `label=${label}`).stdout.split("\n").filter((l) => l !== "").length
  return containers + networks
}

/** Whether `from` opens a TCP connection to `to`'s sshd within `within` seconds (a dropped SYN never answers). */
const reaches = (from: ClusterNode, to: ClusterNode, within = 1) =>
  from.account.exec(["timeout", String(within), "bash", "-c", `exec 3<>/dev/tcp/${to.account.externallyRoutableIp}/22 && head -c 7 <&3`]).pipe(
    Effect.map((r) => r.exitCode === 0 && r.stdout === "SSH-2.0")
  )

// CLI runs go through support/cli.ts's `ducktape`, which does not block this worker while it runs: vitest's calls to
// a worker time out after 60 s, and a CLI run (an image build on a fresh machine, a ZooKeeper suite) can take longer.
const cli = ducktape

// The examples' packages, baked into one derived image (built once, then cached in the daemon's kept data root) that
// the Redis and ZooKeeper runs share; the services' own Provision step then finds them installed.
const examplePackages = "redis-server,zookeeper"

/** Where in a run the driver is killed: while its containers are made, at a moment into the run, while a fault holds. */
const killMoments = ["making containers", "after a delay", "partition applied"] as const
type KillMoment = (typeof killMoments)[number]

/** How often the killing test looks at the engine for the moment to kill. */
const killPoll = Schedule.spaced("150 millis")

/** The session's containers and networks (by the driver pid at the end of their session label), and their runs. */
const sessionOf = (host: string, pid: number) => {
  const rows = (args: Array<string>) =>
    docker(host, ...args, "--filter", "label=ducktape.session", "--format", `{{.ID}}\t{{.Label "ducktape.session"}}\t{{.Label "ducktape.run"}}`)
      .stdout.split("\n").map((l) => l.split("\t")).filter(([id, label]) => id !== "" && label?.endsWith(`/${pid}`))
  const containers = rows(["ps", "-a"])
  const networks = rows(["network", "ls"])
  return { containers: containers.map(([id]) => id!), networks: networks.length, runs: [...new Set([...containers, ...networks].map((r) => r[2]!))] }
}

/** iptables rules on this machine that name one of the runs' bridges (dockerd's), and `ducktape:` rules. */
const hostRules = (runs: ReadonlyArray<string>) => {
  const lines = sh(["iptables-save"]).stdout.split("\n")
  return {
    bridge: lines.filter((l) => runs.some((r) => new RegExp(`dt\\d-${r}\\b`).test(l))).length,
    fault: lines.filter((l) => l.includes("ducktape:")).length
  }
}

/**
 * Runs the ZooKeeper partition example through the CLI on docker:3, SIGKILLs (or SIGINTs) the CLI at the given moment, counts
 * what its session left (containers, networks, `ducktape:` rules inside the containers), runs `ducktape clean
 * --cluster docker` and counts again, with dockerd's host rules for the run's bridge.
 */
const killMidRun = (host: string, moment: KillMoment, delayMs: number, signal: "SIGKILL" | "SIGINT" = "SIGKILL") =>
  Effect.gen(function*() {
    const results = yield* Effect.acquireRelease(
      Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-kill-${process.pid}-`))),
      (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
    )
    const driver = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(process.execPath, [NodePath.join(repo, "bin/ducktape.js"), "--cluster", "docker:3", "--results-root", results, "examples/zookeeper-partition.ducktape.ts"], {
          cwd: repo,
          env: { ...process.env, DOCKER_HOST: host, DUCKTAPE_DOCKER_PACKAGES: examplePackages },
          stdio: "ignore"
        })
      ),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )
    const pid = driver.pid!
    const exited = new Promise<string>((resolve) => driver.on("exit", (code, signal) => resolve(signal ?? `exit ${code}`)))
    const started = Date.now()
    const faultRules = (ids: ReadonlyArray<string>) =>
      ids.reduce((n, id) => n + docker(host, "exec", id, "iptables-save").stdout.split("\n").filter((l) => l.includes("ducktape:")).length, 0)
    const ready = Effect.sync(() => {
      if (driver.exitCode !== null) return true
      const { containers, networks } = sessionOf(host, pid)
      // The run's network is made first, then its containers (at once): a kill then lands while they are made.
      return moment === "making containers"
        ? networks > 0 || containers.length > 0
        : moment === "after a delay"
        ? Date.now() - started >= delayMs
        : faultRules(containers) > 0
    })
    yield* ready.pipe(Effect.repeat({ schedule: killPoll, until: (b) => b }), Effect.timeout("5 minutes"), Effect.ignore)
    driver.kill(signal)
    // A SIGINTed driver tears down first; one that hangs in it fails the test here, not at the suite's timeout.
    const exit = yield* Effect.promise(() => exited).pipe(Effect.timeout("3 minutes"), Effect.orElseSucceed(() => "still running 3 minutes after the signal"))
    const killedAfterMs = Date.now() - started
    const left = sessionOf(host, pid)
    // The docker cluster's key directory in this machine's temp dir, named with the driver's pid.
    const scratchOf = () => NodeFs.readdirSync(NodeOs.tmpdir()).filter((n) => n.startsWith(`ducktape-docker-${pid}-`)).length
    const leftScratch = scratchOf()
    const leftFaultRules = faultRules(left.containers)
    const leftHostRules = hostRules(left.runs).bridge
    const cleaned = yield* cli(["clean", "--cluster", "docker"], { DOCKER_HOST: host })
    const removed = Number(/removed (\d+) docker leftovers/.exec(cleaned.stdout)?.[1] ?? 0)
    // A `docker run` the driver had started goes on without it: look again a moment later for what such a call made
    // after the clean.
    yield* Effect.sleep("2 seconds")
    const after = sessionOf(host, pid)
    const rules = hostRules(left.runs)
    return {
      exit,
      killedAfterMs,
      left: { containers: left.containers.length, networks: left.networks, faultRules: leftFaultRules, hostRules: leftHostRules },
      scratch: { left: leftScratch, after: scratchOf() },
      clean: { code: cleaned.code, removed, ...(cleaned.code === 0 ? {} : { said: (cleaned.stdout + cleaned.stderr).slice(-1500) }) },
      after: { containers: after.containers.length, networks: after.networks, hostRules: rules.bridge, hostFaultRules: rules.fault }
    }
  }).pipe(Effect.scoped)

layer(DockerCluster, { excludeTestServices: true, timeout: "15 minutes" })("Docker cluster", (it) => {
  it.effect("nodes run commands over ssh with their own hostname and address, and resolve each other by name", () =>
    Effect.gen(function*() {
      const [n1, n2] = yield* nodes
      expect([n1.name, n2.name]).toEqual(["n1", "n2"])
      expect(yield* n1.account.sshOutput("hostname")).toBe("n1\n")
      expect((yield* n1.account.exec("exit 3")).exitCode).toBe(3)
      expect(yield* n1.account.sshOutput(["printf", "%s", "$HOME `id` it's"])).toBe("$HOME `id` it's")
      expect(n1.account.externallyRoutableIp).not.toBe(n2.account.externallyRoutableIp)
      const resolved = yield* n1.account.sshOutput("getent hosts n2")
      expect(resolved.split(/\s+/)[0]).toBe(n2.account.externallyRoutableIp)
      // The node's scratch directory exists and is where commands run.
      expect(yield* n1.account.sshOutput("pwd")).toBe(`${Docker.defaultWorkdir}\n`)
    }))

  it.scoped("startProcess streams output and its exit code; closing the scope kills the process group", () =>
    Effect.gen(function*() {
      const [n1] = yield* nodes
      const a = n1.account
      const r = yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* a.startProcess("echo one; echo two; exit 4")
        const out = yield* p.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect)
        return { out: Chunk.toArray(out), code: yield* p.exitCode }
      }))
      expect(r).toEqual({ out: ["one", "two"], code: 4 })
      const child = yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* a.startProcess("sleep 300 & echo $!; wait")
        const first = yield* p.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.take(1), Stream.runCollect)
        const pid = Number(Chunk.unsafeHead(first))
        expect(yield* a.alive(pid)).toBe(true)
        return pid
      }))
      yield* Effect.sleep("500 millis")
      expect(yield* a.alive(child)).toBe(false)
    }))

  it.scoped("files and directory trees copy both ways, and between nodes", () =>
    Effect.gen(function*() {
      const [n1, n2] = yield* nodes
      const local = yield* Effect.acquireRelease(
        Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-files-${process.pid}-`))),
        (d) => Effect.sync(() => NodeFs.rmSync(d, { recursive: true, force: true }))
      )
      yield* n1.account.createFile("hello.txt", "héllo\n")
      expect(yield* n1.account.readFile("hello.txt")).toBe("héllo\n")
      NodeFs.mkdirSync(NodePath.join(local, "tree", "a", "b"), { recursive: true })
      NodeFs.writeFileSync(NodePath.join(local, "tree", "a", "b", "deep.txt"), "deep")
      NodeFs.writeFileSync(NodePath.join(local, "tree", "top.txt"), "top")
      yield* n1.account.copyTo(NodePath.join(local, "tree"), "tree")
      expect(yield* n1.account.sshOutput("cd tree && find . -type f | LC_ALL=C sort")).toBe("./a/b/deep.txt\n./top.txt\n")
      yield* n1.account.copyBetween("tree", n2.account, "tree2")
      expect(yield* n2.account.readFile("tree2/a/b/deep.txt")).toBe("deep")
      yield* n2.account.copyFrom("tree2", NodePath.join(local, "back"))
      expect(NodeFs.readFileSync(NodePath.join(local, "back", "a", "b", "deep.txt"), "utf8")).toBe("deep")
      yield* n1.account.remove("tree")
      expect(yield* n1.account.exists("tree")).toBe(false)
    }))

  it.scoped("a log monitor sees lines written after it started", () =>
    Effect.gen(function*() {
      const [n1] = yield* nodes
      yield* n1.account.createFile("service.log", "old ready\n")
      const monitor = yield* n1.account.monitorLog("service.log")
      yield* n1.account.spawnDaemon("sleep 0.3; echo 'started: ready' >> service.log").pipe(Effect.ignore)
      const found = yield* monitor.waitUntil("ready", { timeout: "20 seconds" })
      expect(found).toEqual(["started: ready"])
    }))

  it.effect("typed nodes get their type's CPU and memory limits; untyped nodes none", () =>
    Effect.gen(function*() {
      const [n1, , n3] = yield* nodes
      expect(n3.nodeType).toBe("tiny")
      const limits = (n: ClusterNode) =>
        Effect.map(
          n.account.sshOutput("cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.limit_in_bytes"),
          (out) => out.trim().split("\n").map(Number)
        )
      const [quota, period, memory] = yield* limits(n3)
      expect(quota! / period!).toBeCloseTo(0.25)
      expect(memory).toBe(300 * 1024 * 1024)
      const [untypedQuota, , untypedMemory] = yield* limits(n1)
      expect(untypedQuota).toBe(-1)
      expect(untypedMemory).toBeGreaterThan(100 * 1024 * 1024 * 1024)
      // The runner allocates by type as on any cluster.
      const cluster = yield* Cluster.Cluster
      expect(cluster.fitsEver({ numNodes: 1, nodeType: "tiny" })).toBe(true)
      expect(cluster.fitsEver({ numNodes: 2, nodeType: "tiny" })).toBe(false)
    }))

  it.effect("a partition between two containers cuts traffic both ways and heals with its scope", () =>
    Effect.gen(function*() {
      const [n1, n2, n3] = yield* nodes
      expect(yield* reaches(n1, n2, 10)).toBe(true)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Fault.partition([[n1], [n2, n3]])
        expect(yield* reaches(n1, n2)).toBe(false)
        expect(yield* reaches(n2, n1)).toBe(false)
        expect(yield* reaches(n2, n3, 10)).toBe(true)
        // The driver still reaches every node: healing needs it.
        expect(yield* n1.account.sshOutput("echo ok")).toBe("ok\n")
      }))
      expect(yield* reaches(n1, n2, 10)).toBe(true)
      expect(yield* reaches(n2, n1, 10)).toBe(true)
      const rules = yield* n1.account.sshOutput("iptables-save -t filter")
      expect(rules).not.toContain("ducktape:")
    }))

  it.effect("a driver SIGKILLed mid-run on docker:3 (making containers, starting ZooKeeper, during a partition) leaves what `ducktape clean` removes, down to 0", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      const before = countByLabel(host, "ducktape.session")
      const runs = Number(process.env["DT_DOCKER_CHAOS_RUNS"] ?? "3")
      const figures: Array<string> = []
      for (let k = 0; k < runs; k++) {
        const moment = killMoments[k % killMoments.length]!
        const outcome = yield* killMidRun(host, moment, 2000 + ((k * 7919) % 10) * 1000)
        figures.push(`run ${k + 1} (${moment}): ${JSON.stringify(outcome)}`)
        const context = figures.join("\n")
        // The driver was killed while it ran (not after its own teardown), and left something behind.
        expect(outcome.exit, context).toBe("SIGKILL")
        expect(outcome.left.containers + outcome.left.networks, context).toBeGreaterThan(0)
        if (moment === "partition applied") expect(outcome.left.faultRules, context).toBeGreaterThan(0)
        // dockerd's rules for the run's bridge are there while its network is (so their absence below means something).
        if (outcome.left.networks > 0) expect(outcome.left.hostRules, context).toBeGreaterThan(0)
        // `ducktape clean` removed all of it: containers, networks, and dockerd's host rules for the run's bridge.
        expect(outcome.clean.code, context).toBe(0)
        // At least what was counted: a `docker run` the driver had started can make its container after the count.
        expect(outcome.clean.removed, context).toBeGreaterThanOrEqual(outcome.left.containers + outcome.left.networks)
        expect(outcome.after, context).toEqual({ containers: 0, networks: 0, hostRules: 0, hostFaultRules: 0 })
        // The cluster's key directory here, left by the kill, went with the clean. (At least one: an earlier driver
        // with the same pid may have left one too.)
        expect(outcome.scratch.left, context).toBeGreaterThanOrEqual(1)
        expect(outcome.scratch.after, context).toBe(0)
      }
      process.stdout.write(`docker SIGKILL runs:\n${figures.join("\n")}\n`)
      // Our own live cluster (and anything else live) was left alone.
      expect(countByLabel(host, "ducktape.session")).toBe(before)
    }), { timeout: 900_000 })

  it.effect("Ctrl-C during a partition on docker:3: the driver heals it and removes its containers and network itself, exit 130", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      const outcome = yield* killMidRun(host, "partition applied", 0, "SIGINT")
      const context = JSON.stringify(outcome)
      expect(outcome.exit, context).toBe("exit 130")
      // Nothing for `ducktape clean` to do: the driver's own teardown removed it all.
      expect(outcome.left, context).toEqual({ containers: 0, networks: 0, faultRules: 0, hostRules: 0 })
      expect(outcome.scratch, context).toEqual({ left: 0, after: 0 })
      expect(outcome.clean, context).toEqual({ code: 0, removed: 0 })
    }), { timeout: 300_000 })

  it.scoped("nodes spread over two engines (a second dockerd on another socket) reach each other by name", () =>
    Effect.gen(function*() {
      const first = yield* DaemonTag
      const second = yield* Dockerd.start({ name: "second", iptables: false })
      // The second engine gets the default image from the first (docker save | load) instead of building it again.
      const base = yield* Docker.ensureImage({ endpoint: first.host })
      if (docker(second.host, "image", "inspect", base).code !== 0) {
        const moved = sh(["sh", "-c", `/usr/bin/docker -H ${first.host} save ${base} | /usr/bin/docker -H ${second.host} load`])
        expect(moved.code).toBe(0)
      }
      const spread = yield* Docker.scoped({ nodes: 2, endpoints: [first.host, second.host], name: "spread" })
      expect(spread.nodes.map((n) => n.endpoint)).toEqual([first.host, second.host])
      const cluster = yield* Docker.toCluster(spread)
      const [a, b] = cluster.all as readonly [ClusterNode, ClusterNode]
      expect(yield* b.account.sshOutput("hostname")).toBe("n2\n")
      expect((yield* a.account.sshOutput("getent hosts n2")).split(/\s+/)[0]).toBe(b.account.externallyRoutableIp)
      expect(yield* reaches(a, b, 10)).toBe(true)
      expect(yield* reaches(b, a, 10)).toBe(true)
      expect(docker(second.host, "ps", "-q", "--filter", "label=ducktape.run=spread").stdout.trim()).not.toBe("")
    }), { timeout: 300_000 })

  it.scoped("an ssh:// engine: the Docker CLI reaches the daemon over ssh (`docker system dial-stdio` on the far side) and its nodes work", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      // The far side: a private sshd whose commands find the daemon through DOCKER_HOST and Debian's docker CLI first.
      const fixture = yield* SshdSupport.startWith({ env: { DOCKER_HOST: host, PATH: "/usr/bin:/bin:/usr/sbin:/sbin" } })
      // This side: Docker runs the `ssh` on the PATH, which reads only the user's own ~/.ssh/config; the key and
      // known_hosts of the fixture come in through a wrapper that adds `-F` (what a user's ssh config would hold).
      const bin = NodePath.join(fixture.dir, "bin")
      const config = NodePath.join(fixture.dir, "ssh_config")
      NodeFs.mkdirSync(bin)
      NodeFs.writeFileSync(config, [
        "Host 127.0.0.1",
        `  IdentityFile ${fixture.clientKey.privateKeyPath}`,
        "  IdentitiesOnly yes",
        `  UserKnownHostsFile ${fixture.knownHosts}`,
        "  StrictHostKeyChecking yes",
        "  BatchMode yes",
        ""
      ].join("\n"))
      NodeFs.writeFileSync(NodePath.join(bin, "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F ${config} "$@"\n`, { mode: 0o755 })
      const savedPath = process.env["PATH"]
      yield* Effect.acquireRelease(
        Effect.sync(() => (process.env["PATH"] = `${bin}:${savedPath}`)),
        () => Effect.sync(() => (process.env["PATH"] = savedPath))
      )
      const endpoint = `ssh://${NodeOs.userInfo().username}@127.0.0.1:${fixture.sshd.port}`
      yield* Effect.scoped(Effect.gen(function*() {
        const viaSsh = yield* Docker.scoped({ nodes: 2, endpoints: [endpoint], name: "viassh" })
        expect(viaSsh.nodes.map((n) => n.endpoint)).toEqual([endpoint, endpoint])
        // The containers are on the daemon behind the sshd, and the driver reached them through it.
        expect(docker(host, "ps", "-q", "--filter", "label=ducktape.run=viassh").stdout.trim().split("\n")).toHaveLength(2)
        expect(NodeFs.readFileSync(fixture.sshd.logPath, "utf8")).toContain("Accepted publickey")
        const cluster = yield* Docker.toCluster(viaSsh)
        const [a, b] = cluster.all as readonly [ClusterNode, ClusterNode]
        expect(yield* b.account.sshOutput("hostname")).toBe("n2\n")
        expect(yield* reaches(a, b, 10)).toBe(true)
      }))
      // Removed over ssh too.
      expect(countByLabel(host, "ducktape.run=viassh")).toBe(0)
      // A key the far side refuses: Docker's own words and what to check, and nothing made.
      NodeFs.writeFileSync(config, NodeFs.readFileSync(config, "utf8").replace(fixture.clientKey.privateKeyPath, NodePath.join(fixture.dir, "nokey")))
      const refused = yield* Effect.flip(Effect.scoped(Docker.scoped({ nodes: 1, endpoints: [endpoint], name: "sshrefused" })))
      expect(refused.reason, refused.message).toBe("ssh-failed")
      expect(refused.message).toContain("Permission denied (publickey)")
      expect(refused.message).toContain("docker system dial-stdio")
      expect(countByLabel(host, "ducktape.run=sshrefused")).toBe(0)
    }), { timeout: 300_000 })

  it.scoped("`ducktape docker up` leaves nodes for repeated runs (that clean keeps) and `docker down` removes them", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-up-${process.pid}-`))),
        (d) => Effect.sync(() => NodeFs.rmSync(d, { recursive: true, force: true }))
      )
      const stateDir = NodePath.join(dir, "state")
      // Whatever this test leaves (it fails half way, say) would outlive it in the cached data root.
      yield* Effect.ignore(Docker.down({ name: "cliup", endpoints: [host] }))
      yield* Effect.addFinalizer(() => Effect.ignore(Docker.down({ name: "cliup", endpoints: [host] })))
      const up = yield* cli(["docker", "up", "--nodes", "1,tiny=1", "--name", "cliup", "--dir", stateDir], { DOCKER_HOST: host })
      // An unknown type is refused; a known one works.
      expect(up.code).toBe(2)
      expect(up.stderr + up.stdout).toContain(`unknown node type "tiny"`)
      expect(countByLabel(host, "ducktape.run=cliup")).toBe(0)
      const up2 = yield* cli(["docker", "up", "--nodes", "1,small=1", "--name", "cliup", "--dir", stateDir], { DOCKER_HOST: host })
      expect(up2.stdout).toContain("docker cluster cliup is up")
      expect(up2.code).toBe(0)
      // The process that made them is gone, yet clean leaves them: they are meant to stay.
      expect((yield* cli(["clean", "--cluster", "docker"], { DOCKER_HOST: host })).stdout).toContain("no docker leftovers found")
      const context = yield* Layer.build(Cluster.fromFile(NodePath.join(stateDir, "cluster.json")))
      const cluster = Context.get(context, Cluster.Cluster)
      expect(cluster.all.map((n) => [n.name, n.nodeType])).toEqual([["n1", undefined], ["n2", "small"]])
      expect(yield* cluster.all[1]!.account.sshOutput("hostname; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us")).toBe("n2\n50000\n")
      const down = yield* cli(["docker", "down", "--dir", stateDir], { DOCKER_HOST: host })
      expect(down.stdout).toContain("removed 2 containers, 1 networks")
      expect(countByLabel(host, "ducktape.run=cliup")).toBe(0)
      expect(NodeFs.existsSync(NodePath.join(stateDir, "cluster.json"))).toBe(false)
    }), { timeout: 240_000 })

  it.effect("from a fresh `npm init -y` project with the packed package, `ducktape --cluster docker:2` runs the user's test on two containers and leaves none", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      const before = countByLabel(host, "ducktape.session")
      const work = yield* Effect.acquireRelease(
        Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-packed-${process.pid}-`))),
        (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
      )
      const { tarball } = yield* Effect.promise(() => Packed.pack(work))
      const dir = yield* Effect.promise(() => Packed.freshProject(work, "user"))
      const installed = yield* Effect.promise(() => Packed.npm(dir, "install", tarball, "effect@3"))
      expect(installed.code, installed.out).toBe(0)
      Packed.write(dir, "tests/pair.ducktape.ts", `import { Effect } from "effect"
import { Cluster, Test } from "ducktape-effect"

export const Pair = Test.suite("Pair", {
  /** Two containers: each its own host, and each finds the other by name. */
  seeEachOther: Test.make({ cluster: 2 }, () =>
    Effect.gen(function*() {
      const [a, b] = (yield* Cluster.Cluster).all
      const names = [(yield* a!.account.sshOutput("hostname")).trim(), (yield* b!.account.sshOutput("hostname")).trim()]
      yield* Test.check(names[0] === a!.name && names[1] === b!.name, \`hostnames \${names}\`)
      const found = (yield* a!.account.sshOutput(\`getent hosts \${b!.name}\`)).split(/\\s+/)[0]
      yield* Test.check(found === b!.account.externallyRoutableIp, \`\${b!.name} resolved to \${found}\`)
    }))
})
`)
      const ran = yield* Effect.promise(() =>
        Packed.run(dir, NodePath.join(dir, "node_modules/.bin/ducktape"), ["tests", "--cluster", "docker:2"], { DOCKER_HOST: host }))
      expect(ran.out).toContain("PASS   tests.pair.Pair.seeEachOther")
      expect(ran.code, ran.out).toBe(0)
      // The run's containers and network went with it.
      expect(countByLabel(host, "ducktape.session")).toBe(before)
    }).pipe(Effect.scoped), { timeout: 300_000 })

  it.scoped("a base image of the user's: the node image is built from it with docker build and its node works; one the engine cannot get fails with no-base-image", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      // The engine's Debian root filesystem (mmdebstrap's, under the default image) stands in for a registry's
      // debian:bookworm-slim: there is no registry here.
      const rootfs = docker(host, "images", "--format", "{{.Repository}}:{{.Tag}}", "ducktape-node-rootfs").stdout.trim().split("\n")[0]!
      expect(rootfs).toMatch(/^ducktape-node-rootfs:/)
      const cluster = yield* Docker.scoped({ nodes: 1, baseImage: rootfs, endpoints: [host], name: "based" })
      const image = docker(host, "inspect", "--format", "{{.Config.Image}}", cluster.nodes[0]!.containerId).stdout.trim()
      expect(image).toMatch(/^ducktape-node:/)
      expect(image).not.toBe(Image.baseTag())
      const [node] = (yield* Docker.toCluster(cluster)).all
      expect(yield* node!.account.sshOutput("hostname; dpkg-query -W -f '${Status}' openssh-server")).toBe("n1\ninstall ok installed")

      // A base no engine can pull (a registry on a closed loopback port): one message with the ways out.
      const failed = yield* Effect.flip(Docker.ensureImage({ endpoint: host, baseImage: "127.0.0.1:1/debian:bookworm-slim" }))
      expect(failed.reason).toBe("no-base-image")
      expect(failed.message).toContain("could not build the node image from 127.0.0.1:1/debian:bookworm-slim (the base image you gave)")
      expect(failed.message).toContain("fix: give a Debian bookworm image the engine has or can pull (DUCKTAPE_DOCKER_BASE_IMAGE")
    }), { timeout: 600_000 })

  it.effect("the redis example runs through the CLI on --cluster docker:3 (its package baked into the image)", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      const before = countByLabel(host, "ducktape.session")
      const results = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-redis-${process.pid}-`))
      try {
        const ran = yield* cli(["--cluster", "docker:3", "--results-root", results, "examples/redis.ducktape.ts"], {
          DOCKER_HOST: host,
          DUCKTAPE_DOCKER_PACKAGES: examplePackages
        })
        expect(ran.stdout, ran.stderr).toMatch(/PASS/)
        expect(ran.code).toBe(0)
        // The run's containers and network are gone with it.
        expect(countByLabel(host, "ducktape.session")).toBe(before)
      } finally {
        NodeFs.rmSync(results, { recursive: true, force: true })
      }
    }), { timeout: 600_000 })

  it.effect("the ZooKeeper ensemble and partition examples pass in one CLI run on --cluster docker:3; the partition applies and heals inside the containers", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      const before = countByLabel(host, "ducktape.session")
      const results = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-zk-${process.pid}-`))
      try {
        // No DUCKTAPE_LAB: the CLI sets it for docker clusters, so the partition suite runs instead of being IGNORE.
        const ran = yield* cli(["--cluster", "docker:3", "--results-root", results,
          "examples/zookeeper.ducktape.ts", "examples/zookeeper-partition.ducktape.ts"], { DOCKER_HOST: host, DUCKTAPE_DOCKER_PACKAGES: examplePackages })
        const report = JSON.parse(NodeFs.readFileSync(NodePath.join(results, "latest", "report.json"), "utf8"))
        const statuses = Object.fromEntries(report.results.map((r: { testId: string; status: string; summary: string }) => [r.testId, `${r.status} ${r.status === "PASS" ? "" : r.summary}`.trim()]))
        expect(statuses, ran.stdout.slice(-3000) + ran.stderr.slice(-2000)).toEqual({
          "examples.zookeeper.ZooKeeperTest.servesThroughAnyNode.size=1": "PASS",
          "examples.zookeeper.ZooKeeperTest.servesThroughAnyNode.size=3": "PASS",
          "examples.zookeeper.ZooKeeperTest.survivesBounce": "PASS",
          "examples.zookeeper-partition.ZooKeeperPartitionTest.leaderPartitionedAway": "PASS"
        })
        expect(ran.code).toBe(0)
        // The ensemble ran on the containers (their names and addresses), one leader among three.
        const ensemble = report.results.find((r: { testId: string }) => r.testId.endsWith("size=3"))
        expect([...ensemble.data.modes].sort()).toEqual(["follower", "follower", "leader"])
        // The partition cut the old leader off (the majority elected another) and was healed, which the example
        // itself checks by waiting for the old leader to rejoin as a follower.
        const partition = report.results.find((r: { testId: string }) => r.testId.includes("leaderPartitionedAway"))
        expect(partition.data.oldLeader).toMatch(/^n[123]$/)
        expect(partition.data.newLeader).not.toBe(partition.data.oldLeader)
        expect(partition.faults).toHaveLength(1)
        expect(partition.faults[0]).toMatchObject({ kind: "partition", target: expect.stringMatching(new RegExp(`^${partition.data.oldLeader} \\| `)) })
        expect(partition.faults[0].healedAt).toBeGreaterThan(partition.faults[0].appliedAt)
        expect(countByLabel(host, "ducktape.session")).toBe(before)
      } finally {
        NodeFs.rmSync(results, { recursive: true, force: true })
      }
    }), { timeout: 660_000 })

  it.scoped("a full disk where the engine keeps its data fails with disk-full and leaves nothing", () =>
    Effect.gen(function*() {
      const first = yield* DaemonTag
      // A daemon whose data root is a small tmpfs of our own (unmounted at the end), filled up once the image is in.
      const root = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-full-${process.pid}-`))
          expect(sh(["mount", "-t", "tmpfs", "-o", "size=700m", "tmpfs", dir]).code).toBe(0)
          return dir
        }),
        (dir) => Effect.sync(() => {
          sh(["umount", "-l", dir])
          NodeFs.rmSync(dir, { recursive: true, force: true })
        })
      )
      const full = yield* Dockerd.start({ name: "full", iptables: false, dataRoot: root })
      const base = yield* Docker.ensureImage({ endpoint: first.host })
      expect(sh(["sh", "-c", `/usr/bin/docker -H ${first.host} save ${base} | /usr/bin/docker -H ${full.host} load`]).code).toBe(0)
      sh(["dd", "if=/dev/zero", `of=${NodePath.join(root, "filler")}`, "bs=1M"])
      const error = yield* Effect.flip(Effect.scoped(Docker.scoped({ nodes: 1, endpoints: [full.host], name: "full" })))
      expect(error.reason, error.message).toBe("disk-full")
      expect(error.message).toContain("free space where Docker keeps its data")
      NodeFs.rmSync(NodePath.join(root, "filler"), { force: true })
      expect(countByLabel(full.host, "ducktape.run=full")).toBe(0)
    }), { timeout: 300_000 })

  it.effect("bad input fails with one clear message each and leaves nothing behind", () =>
    Effect.gen(function*() {
      const { host } = yield* DaemonTag
      const before = countByLabel(host, "ducktape.session")
      const attempt = (options: Docker.DockerOptions) => Effect.flip(Effect.scoped(Docker.scoped(options)))

      const noDaemon = yield* attempt({ nodes: 1, endpoints: ["unix:///nonexistent/docker.sock"] })
      expect(noDaemon.reason).toBe("no-daemon")
      expect(noDaemon.message).toContain("start the Docker daemon")

      const unknownType = yield* attempt({ nodes: { numNodes: 1, nodeType: "huge" }, endpoints: [host] })
      expect(unknownType.reason).toBe("invalid-options")
      expect(unknownType.message).toContain(`unknown node type "huge"`)

      const badEndpoint = yield* attempt({ nodes: 1, endpoints: ["ftp://x"] })
      expect(badEndpoint.message).toContain("write unix:///path/docker.sock")

      const missingImage = yield* attempt({ nodes: 1, endpoints: [host], image: "no-such-image:1" })
      expect(missingImage.reason).toBe("image-not-found")

      // An image without sshd: the default one with sshd taken out.
      const base = yield* Docker.ensureImage({ endpoint: host })
      const ctx = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "dt-nosshd-"))
      NodeFs.writeFileSync(NodePath.join(ctx, "Dockerfile"), `FROM ${base}\nRUN rm -f /usr/sbin/sshd\n`)
      const built = sh(["/usr/bin/docker", "-H", host, "build", "--network", "none", "-q", "-t", "dt-test-nosshd:1", ctx], { DOCKER_BUILDKIT: "0" })
      NodeFs.rmSync(ctx, { recursive: true, force: true })
      expect(built.stderr).toBe("")
      const noSshd = yield* attempt({ nodes: 1, endpoints: [host], image: "dt-test-nosshd:1", name: "nosshd" })
      expect(noSshd.reason).toBe("no-sshd")
      expect(noSshd.message).toContain("no sshd")
      expect(countByLabel(host, "ducktape.run=nosshd")).toBe(0)

      // A name a live cluster uses.
      const conflict = yield* Effect.scoped(Effect.gen(function*() {
        yield* Docker.scoped({ nodes: 1, endpoints: [host], name: "twice" })
        return yield* attempt({ nodes: 1, endpoints: [host], name: "twice" })
      }))
      expect(conflict.reason).toBe("name-conflict")
      expect(countByLabel(host, "ducktape.run=twice")).toBe(0)
      expect(countByLabel(host, "ducktape.session")).toBe(before)

      // From the CLI: exit 2 and the message, no stack trace.
      const ran = yield* cli(["--cluster", "docker:1", "examples/redis.ducktape.ts"], { DOCKER_HOST: "unix:///nonexistent/docker.sock" })
      expect(ran.code).toBe(2)
      expect(ran.stderr + ran.stdout).toContain("the Docker daemon does not answer")
      expect(ran.stderr + ran.stdout).not.toMatch(/\n\s+at /)
    }), { timeout: 300_000 })
})

describe("Docker, without a daemon", () => {
  it("names the problem in Docker's own words for a full disk, a refused socket, a name in use", () => {
    expect(Engine.classify("Error response from daemon: write /var/lib/docker/tmp/x: no space left on device")).toBe("disk-full")
    expect(Engine.classify("Got permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock")).toBe("no-permission")
    expect(Engine.classify(`docker: Error response from daemon: Conflict. The container name "/dt-x-n1" is already in use`)).toBe("name-conflict")
    // Docker's ssh helper: ssh refused, or no docker CLI on the far side.
    expect(Engine.classify(`error during connect: Get "http://docker.example.com/v1.24/version": command [ssh -l u -- h docker system dial-stdio] has exited with exit status 127, please make sure the URL is valid, and Docker 18.09 or later is installed on the remote host: stderr=sh: 1: docker: not found`)).toBe("ssh-failed")
    expect(Engine.classify("u@h: Permission denied (publickey).")).toBe("ssh-failed")
    const full = new Docker.DockerError({ endpoint: "default", reason: "disk-full", detail: "docker import failed" })
    expect(full.message).toContain("docker system prune")
  })

  it("where mmdebstrap or /usr/bin/docker is missing (macOS with Docker Desktop): debian:bookworm-slim is the base, the PATH's docker the CLI", () => {
    expect(Image.baseRecipe(undefined, "/usr/bin/mmdebstrap")).toBe("mmdebstrap")
    expect(Image.baseRecipe(undefined, undefined)).toEqual({ from: "debian:bookworm-slim" })
    // A base the user gives wins over both.
    expect(Image.baseRecipe("registry.example/debian:bookworm", "/usr/bin/mmdebstrap")).toEqual({ from: "registry.example/debian:bookworm" })
    const bin = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-cli-${process.pid}-`))
    try {
      NodeFs.writeFileSync(NodePath.join(bin, "docker"), "#!/bin/sh\n", { mode: 0o755 })
      NodeFs.mkdirSync(NodePath.join(bin, "sub"))
      NodeFs.writeFileSync(NodePath.join(bin, "sub", "docker"), "not executable\n", { mode: 0o644 })
      // Debian's /usr/bin/docker first; without it, the first executable `docker` on the PATH.
      expect(Engine.findCli(bin, "/usr/bin")).toBe("/usr/bin/docker")
      expect(Engine.findCli(`/nonexistent:${NodePath.join(bin, "sub")}:${bin}`, "/nonexistent")).toBe(NodePath.join(bin, "docker"))
      expect(Engine.findCli(NodePath.join(bin, "sub"), "/nonexistent")).toBeUndefined()
    } finally {
      NodeFs.rmSync(bin, { recursive: true, force: true })
    }
    // The CLI's environment names a base image as it names the image.
    const saved = process.env["DUCKTAPE_DOCKER_BASE_IMAGE"]
    process.env["DUCKTAPE_DOCKER_BASE_IMAGE"] = "registry.example/debian:bookworm"
    try {
      expect(Docker.parseClusterFlag("docker:2")).toEqual(Option.some({ nodes: [{ numNodes: 2 }], baseImage: "registry.example/debian:bookworm" }))
    } finally {
      if (saved === undefined) delete process.env["DUCKTAPE_DOCKER_BASE_IMAGE"]
      else process.env["DUCKTAPE_DOCKER_BASE_IMAGE"] = saved
    }
  })

  it("a tool the image build runs here (mmdebstrap) ends with its driver: SIGKILL the driver and the tool is gone in seconds", async () => {
    // `sleep` with an argument no other process has stands in for mmdebstrap.
    const argv = ["sleep", `${600 + (process.pid % 1000)}.${Date.now() % 100_000}`]
    const image = NodeUrl.pathToFileURL(NodePath.join(repo, "src/internal/cluster/docker/image.ts")).href
    const code = `import { Effect } from "effect"
import { runLocal } from ${JSON.stringify(image)}
await Effect.runPromise(runLocal({ id: "local", flags: [], local: true, host: undefined }, ${JSON.stringify(argv)}, 600000))`
    const driver = ChildProcess.spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: repo, stdio: "ignore" })
    const until = async (done: () => boolean, ms: number) => {
      for (const end = Date.now() + ms; !done(); await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() > end) return false
      }
      return true
    }
    try {
      expect(await until(() => processesRunning(argv).length === 1, 30_000)).toBe(true)
      driver.kill("SIGKILL")
      // The watchdog looks every second, and TERMs the tool's group.
      expect(await until(() => processesRunning(argv).length === 0, 10_000)).toBe(true)
    } finally {
      driver.kill("SIGKILL")
      for (const pid of processesRunning(argv)) process.kill(pid, "SIGKILL")
    }
  }, 60_000)

  it("a socket the user may not open fails with no-permission, from the CLI with exit 2", async () => {
    const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-perm-${process.pid}-`))
    NodeFs.chmodSync(dir, 0o755)
    const socket = NodePath.join(dir, "docker.sock")
    const server = NodeNet.createServer((c) => c.destroy())
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    NodeFs.chmodSync(socket, 0o600)
    NodeFs.mkdirSync(NodePath.join(dir, "state"), { mode: 0o777 })
    NodeFs.chmodSync(NodePath.join(dir, "state"), 0o777)
    try {
      // As an unprivileged user (root may open any socket); the repository must be readable by it.
      const ran = sh(["runuser", "-u", "nobody", "--", process.execPath, NodePath.join(repo, "bin/ducktape.js"), "docker", "up", "--nodes", "1", "--dir", NodePath.join(dir, "state"), "--endpoint", `unix://${socket}`])
      expect(ran.stderr + ran.stdout).toContain("add your user to the `docker` group")
      expect(ran.code).toBe(2)
    } finally {
      server.close()
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  // it.live, not it.effect: @effect/vitest's layer() above assigns its own `effect` and `scoped` onto the shared `it`,
  // so an it.effect here would build the Docker layer (a dockerd and three containers) that this test does not use,
  // and in a run filtered to this test, no afterAll of the layer's describe would ever stop it.
  it.live("a context endpoint is read from the CLI's own config; one whose engine is down fails with no-daemon", () =>
    Effect.gen(function*() {
      const config = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-docker-ctx-${process.pid}-`))
      const saved = process.env["DOCKER_CONFIG"]
      try {
        const made = sh(["/usr/bin/docker", "context", "create", "gone", "--docker", "host=unix:///nonexistent/docker.sock"], { DOCKER_CONFIG: config })
        expect(made.code, made.stderr).toBe(0)
        process.env["DOCKER_CONFIG"] = config
        const error = yield* Effect.flip(Effect.scoped(Docker.scoped({ nodes: 1, endpoints: ["context:gone"] })))
        expect(error.reason).toBe("no-daemon")
        expect(error.endpoint).toBe("context:gone")
        const unknown = yield* Effect.flip(Effect.scoped(Docker.scoped({ nodes: 1, endpoints: ["context:nosuch"] })))
        expect(unknown.message).toContain(`docker context "nosuch" cannot be read`)
      } finally {
        if (saved === undefined) delete process.env["DOCKER_CONFIG"]
        else process.env["DOCKER_CONFIG"] = saved
        NodeFs.rmSync(config, { recursive: true, force: true })
      }
    }))
})
