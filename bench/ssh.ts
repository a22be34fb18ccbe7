/**
 * SSH speed as ratios against anchors measured side by side in one run, against one private sshd on 127.0.0.1
 * that this bench starts (own host key, own client key, the Sshd module's config) and stops:
 *
 * 1. sequential command latency: ours (`account.ssh("true")` over ssh2) vs OpenSSH ControlMaster, fresh `ssh`,
 *    local `spawn('true')` and our LocalAccount;
 * 2. throughput at concurrency 8: ours vs ControlMaster vs local spawn;
 * 3. a 100 MiB file copied to the host: `copyTo` vs `scp` (SFTP mode) and `scp -O`;
 * 4. 1,000 files of 4 KiB (a directory): `copyTo` vs `scp -r` and `scp -O -r`;
 * 5. log line → detection: a LogMonitor's `waitUntil` (and, apart, the moment the line reaches `monitor.lines`) vs
 *    ducktape's polling of `tail -c +off | grep` every 100 ms.
 *
 * Contenders alternate within rounds (the first of a round rotates) so that machine noise hits all of them alike;
 * everything is warmed up first. Prints one JSON line per measurement, then a table. Run: `npx tsx bench/ssh.ts`.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { NodeRuntime } from "@effect/platform-node"
import { Deferred, Effect, Fiber, Runtime, Schedule, Stream } from "effect"
import ssh2 from "ssh2"
import * as LocalAccount from "../src/LocalAccount.js"
import type { RemoteAccount } from "../src/RemoteAccount.js"
import * as Shell from "../src/Shell.js"
import * as SshAccount from "../src/SshAccount.js"
import * as SshdFixture from "../test/support/sshd.js"

// ---------------------------------------------------------------------------------------------------------
// Sizes of the runs
// ---------------------------------------------------------------------------------------------------------

const latencyRounds = 5
const latencyPerRound = 50 // × 5 rounds = 250 commands per contender
const freshPerRound = 2
const throughputConcurrency = 8
const throughputRounds = 2
const throughputRoundMs = 2500 // × 2 rounds = 5 s per contender
const bigFileMiB = 100
const smallFiles = 1000
const smallFileBytes = 4 * 1024
const copyRounds = 3
const logLines = 60 // per contender
/** ducktape's LogMonitor.wait_until polls with backoff_sec=.1. */
const ducktapePoll = Schedule.spaced("100 millis")
/** How long we wait for a monitor's `tail` to be running before writing the line. */
const tailStartPoll = Schedule.spaced("5 millis").pipe(Schedule.upTo("3 seconds"))

// ---------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const i = (s.length - 1) * q
  const lo = Math.floor(i)
  const hi = Math.ceil(i)
  return s[lo]! + (s[hi]! - s[lo]!) * (i - lo)
}
const median = (xs: ReadonlyArray<number>) => quantile(xs, 0.5)
const round = (x: number, digits = 2) => Number.isFinite(x) ? +x.toFixed(digits) : x
const load = () => NodeOs.loadavg().map((l) => round(l, 2))
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, loadavg: load() }))
const rotate = <A>(xs: ReadonlyArray<A>, by: number): Array<A> => xs.map((_, i) => xs[(i + by) % xs.length]!)
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Every child process we start, so that none outlives the bench (each is stopped by its pid). */
const children = new Set<ChildProcess.ChildProcess>()
const killChildren = () => {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
}

/** Runs a command to its end; its exit code (255 for a failure to start). */
const run = (argv: ReadonlyArray<string>): Promise<number> =>
  new Promise((resolve) => {
    const c = ChildProcess.spawn(argv[0]!, argv.slice(1), { stdio: "ignore" })
    children.add(c)
    c.once("error", () => {
      children.delete(c)
      resolve(255)
    })
    c.once("close", (code) => {
      children.delete(c)
      resolve(code ?? 255)
    })
  })

/** Runs a command that must succeed, with its output for the error. */
const runOk = (argv: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const c = ChildProcess.spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] })
    children.add(c)
    let out = ""
    c.stdout.on("data", (b: Buffer) => (out += b.toString()))
    c.stderr.on("data", (b: Buffer) => (out += b.toString()))
    c.once("error", (e) => {
      children.delete(c)
      reject(e)
    })
    c.once("close", (code) => {
      children.delete(c)
      if (code === 0) resolve(out)
      else reject(new Error(`${Shell.join(argv)} exited with ${code}: ${out.trim()}`))
    })
  })

const sha256File = (path: string) =>
  new Promise<string>((resolve, reject) => {
    const h = Crypto.createHash("sha256")
    NodeFs.createReadStream(path).on("data", (b) => h.update(b)).on("end", () => resolve(h.digest("hex"))).on("error", reject)
  })

/** The pids of running `tail` processes that read `path`. */
const tailPids = (path: string): Set<number> => {
  const found = new Set<number>()
  for (const e of NodeFs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue
    try {
      const argv = NodeFs.readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0")
      if (argv[0] === "tail" && argv.includes(path)) found.add(Number(e))
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/**
 * CPU time (ms) of this process and every process below it, live or already reaped: node itself, the ssh/scp
 * clients and the ControlMaster we spawn, and the private sshd (our child) with its sessions and the commands
 * they ran. A load-independent cost to set beside the wall-clock figures on a shared machine.
 */
const treeCpuMs = (): number => {
  const ticks = new Map<number, { readonly ppid: number; readonly total: number }>()
  for (const e of NodeFs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = NodeFs.readFileSync(`/proc/${e}/stat`, "utf8")
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // utime, stime, cutime, cstime: a process's own time plus that of the children it has reaped.
      ticks.set(Number(e), { ppid: Number(f[1]), total: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) })
    } catch {
      // gone meanwhile
    }
  }
  const children = new Map<number, Array<number>>()
  for (const [pid, t] of ticks) children.set(t.ppid, [...(children.get(t.ppid) ?? []), pid])
  let total = 0
  const visit = (pid: number) => {
    total += ticks.get(pid)?.total ?? 0
    for (const c of children.get(pid) ?? []) visit(c)
  }
  visit(process.pid)
  return total * (1000 / clockTicks)
}
/** USER_HZ: 100 on Linux. */
const clockTicks = 100

// ---------------------------------------------------------------------------------------------------------
// Setup: one private sshd, our account on it, a LocalAccount, OpenSSH client options
// ---------------------------------------------------------------------------------------------------------

interface Setup {
  readonly dir: string
  readonly port: number
  readonly user: string
  readonly key: string
  readonly knownHosts: string
  /** The remote account's workdir (the same machine: local paths work for checks and cleanup). */
  readonly remoteDir: string
  readonly account: RemoteAccount
  readonly local: RemoteAccount
  readonly runtime: Runtime.Runtime<never>
}

const setup = Effect.gen(function*() {
  // The same private sshd (own host key, fresh client key, dies with us) as our tests use.
  const fixture = yield* SshdFixture.start
  const { clientKey, dir, knownHosts, sshd } = fixture
  const remoteDir = NodePath.join(dir, "remote")
  NodeFs.mkdirSync(remoteDir, { recursive: true })
  const user = NodeOs.userInfo().username
  const account = yield* SshAccount.make({ ...fixture.accountOptions, hostname: "bench", workdir: remoteDir })
  const local = yield* LocalAccount.make({ hostname: "local", workdir: NodePath.join(dir, "local") })
  // Runs after the harness, before the account and the sshd close: no child of ours outlives the bench.
  yield* Effect.addFinalizer(() => Effect.sync(killChildren))
  const runtime = yield* Effect.runtime<never>()
  emit({ bench: "setup", sshdPort: sshd.port, sshdPid: sshd.pid, cpus: NodeOs.cpus().length, node: process.version })
  return { dir, port: sshd.port, user, key: clientKey.privateKeyPath, knownHosts, remoteDir, account, local, runtime } satisfies Setup
})

// ---------------------------------------------------------------------------------------------------------
// The bench
// ---------------------------------------------------------------------------------------------------------

interface Row {
  readonly what: string
  readonly ours: string
  readonly anchor: string
  readonly ratio: number
  readonly target: string
  readonly met: boolean
  /** CPU per unit of work, all processes involved (see treeCpuMs): ours vs the anchor. */
  readonly cpu?: string
}

const cpuPair = (ours: number, anchor: number, unit: string, digits = 2) =>
  `${round(ours, digits)} vs ${round(anchor, digits)} ${unit}`

const harness = async (s: Setup, signal: AbortSignal) => {
  const loadAtStart = load()
  const runP = <A, E>(e: Effect.Effect<A, E>) => Runtime.runPromise(s.runtime)(e)
  const check = () => {
    if (signal.aborted) throw new Error("interrupted")
  }
  const rows: Array<Row> = []
  const target = `${s.user}@127.0.0.1`
  const sshBase = [
    "-F", "/dev/null",
    "-i", s.key,
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", `UserKnownHostsFile=${s.knownHosts}`,
    "-o", "StrictHostKeyChecking=yes",
    "-o", "LogLevel=ERROR"
  ]
  const controlPath = NodePath.join(s.dir, "client", "cm.sock")
  const cmOptions = ["-o", "ControlMaster=auto", "-o", `ControlPath=${controlPath}`, "-o", "ControlPersist=60"]
  const cmCommand = ["ssh", ...sshBase, ...cmOptions, "-p", String(s.port), target, "true"]
  const freshCommand = ["ssh", ...sshBase, "-o", "ControlMaster=no", "-o", "ControlPath=none", "-p", String(s.port), target, "true"]

  // The ControlMaster: our own foreground child (stopped by its pid), established before anything is timed.
  const master = ChildProcess.spawn(
    "ssh",
    [...sshBase, "-M", "-N", "-o", `ControlPath=${controlPath}`, "-o", "ControlPersist=no", "-p", String(s.port), target],
    { stdio: "ignore" }
  )
  children.add(master)
  master.once("close", () => children.delete(master))
  for (let i = 0; i < 500 && (await run(["ssh", "-S", controlPath, "-O", "check", target])) !== 0; i++) await sleep(10)
  if ((await run(["ssh", "-S", controlPath, "-O", "check", target])) !== 0) throw new Error("the ControlMaster did not come up")

  // A bare ssh2 connection, as the floor under ours (no pool, no wrapper, no Effect).
  const raw = new ssh2.Client()
  raw.on("connect", () => raw.setNoDelay(true))
  raw.on("error", () => {})
  await new Promise<void>((resolve, reject) => {
    raw.once("ready", () => resolve())
    raw.once("error", reject)
    raw.connect({ host: "127.0.0.1", port: s.port, username: s.user, privateKey: NodeFs.readFileSync(s.key) })
  })
  const rawExec = (line: string) =>
    new Promise<void>((resolve, reject) =>
      raw.exec(line, (err, ch) => {
        if (err !== undefined) return reject(err)
        ch.resume()
        ch.stderr.resume()
        ch.end()
        ch.once("close", () => resolve())
      })
    )
  const spawnTrue = () => run(["true"]).then(() => undefined)

  try {
    // -- 1. sequential latency -------------------------------------------------------------------------
    emit({ bench: "section", name: "sequential latency" })
    interface Lat {
      readonly name: string
      readonly batch: (n: number) => Promise<ReadonlyArray<number>>
      readonly perRound: number
      samples: Array<number>
      cpuMs: number
      treeMs: number
      n: number
    }
    const promiseBatch = (once: () => Promise<unknown>) => async (n: number) => {
      const out: Array<number> = []
      for (let i = 0; i < n; i++) {
        check()
        const t0 = performance.now()
        await once()
        out.push(performance.now() - t0)
      }
      return out
    }
    const effectBatch = <E>(once: Effect.Effect<unknown, E>) => (n: number) =>
      runP(Effect.gen(function*() {
        const out: Array<number> = []
        for (let i = 0; i < n; i++) {
          check()
          const t0 = performance.now()
          yield* once
          out.push(performance.now() - t0)
        }
        return out
      }))
    const lat = (name: string, batch: Lat["batch"], perRound = latencyPerRound): Lat => ({
      name,
      batch,
      perRound,
      samples: [],
      cpuMs: 0,
      treeMs: 0,
      n: 0
    })
    const ours = lat("ours: account.ssh(\"true\") over ssh2", effectBatch(s.account.ssh("true")))
    const cm = lat("OpenSSH ControlMaster: ssh … true", promiseBatch(() => run(cmCommand)))
    const fresh = lat("fresh ssh host true", promiseBatch(() => run(freshCommand)), freshPerRound)
    const spawn = lat("local spawn('true')", promiseBatch(spawnTrue))
    const localAcct = lat("LocalAccount.ssh(\"true\")", effectBatch(s.local.ssh("true")))
    const rawL = lat("raw ssh2 exec('true'), one connection", promiseBatch(() => rawExec("true")))
    const latencies = [ours, cm, fresh, spawn, localAcct, rawL]
    for (const l of latencies) await l.batch(Math.min(30, l.perRound))
    for (let r = 0; r < latencyRounds; r++) {
      for (const l of rotate(latencies, r)) {
        const tree0 = treeCpuMs()
        const c0 = process.cpuUsage()
        const xs = await l.batch(l.perRound)
        const c = process.cpuUsage(c0)
        l.treeMs += treeCpuMs() - tree0
        l.samples.push(...xs)
        l.cpuMs += (c.user + c.system) / 1000
        l.n += xs.length
      }
    }
    for (const l of latencies) {
      emit({
        bench: "latency",
        contender: l.name,
        n: l.samples.length,
        medianMs: round(median(l.samples)),
        p90Ms: round(quantile(l.samples, 0.9)),
        // This process's CPU only: a child's (ssh, true) is not counted.
        nodeCpuMsPerCmd: round(l.cpuMs / l.n),
        // Everything: node, ssh clients, the master, sshd and the commands.
        allCpuMsPerCmd: round(l.treeMs / l.n)
      })
    }
    const oursVsCm = median(ours.samples) / median(cm.samples)
    rows.push({
      what: "latency, median: ours / ControlMaster",
      ours: `${round(median(ours.samples))} ms (p90 ${round(quantile(ours.samples, 0.9))})`,
      anchor: `${round(median(cm.samples))} ms (p90 ${round(quantile(cm.samples, 0.9))})`,
      ratio: round(oursVsCm),
      target: "≤ 0.5",
      met: oursVsCm <= 0.5,
      cpu: cpuPair(ours.treeMs / ours.n, cm.treeMs / cm.n, "ms/cmd")
    })
    const oursVsSpawn = median(ours.samples) / median(spawn.samples)
    rows.push({
      what: "latency, median: ours / local spawn",
      ours: `${round(median(ours.samples))} ms`,
      anchor: `${round(median(spawn.samples))} ms (p90 ${round(quantile(spawn.samples, 0.9))})`,
      ratio: round(oursVsSpawn),
      target: "≤ 2",
      met: oursVsSpawn <= 2,
      cpu: cpuPair(ours.treeMs / ours.n, spawn.treeMs / spawn.n, "ms/cmd")
    })
    for (const [l, what] of [[fresh, "fresh ssh"], [localAcct, "LocalAccount"], [rawL, "raw ssh2"]] as const) {
      rows.push({
        what: `latency, median: ours / ${what} (info)`,
        ours: `${round(median(ours.samples))} ms`,
        anchor: `${round(median(l.samples))} ms (p90 ${round(quantile(l.samples, 0.9))})`,
        ratio: round(median(ours.samples) / median(l.samples)),
        target: "—",
        met: true,
        cpu: cpuPair(ours.treeMs / ours.n, l.treeMs / l.n, "ms/cmd")
      })
    }

    // -- 2. throughput at concurrency 8 ----------------------------------------------------------------
    emit({ bench: "section", name: "throughput" })
    interface Tput {
      readonly name: string
      /** Runs `concurrency` workers until `deadline`; how many commands succeeded and failed. */
      readonly during: (ms: number) => Promise<{ ok: number; failed: number }>
      ok: number
      failed: number
      ms: number
      treeMs: number
    }
    const promiseWorkers = (once: () => Promise<boolean>) => async (ms: number) => {
      const deadline = performance.now() + ms
      let ok = 0
      let failed = 0
      await Promise.all(Array.from({ length: throughputConcurrency }, async () => {
        while (performance.now() < deadline && !signal.aborted) {
          if (await once()) ok++
          else failed++
        }
      }))
      return { ok, failed }
    }
    const effectWorkers = <E>(once: Effect.Effect<unknown, E>) => (ms: number) => {
      const deadline = performance.now() + ms
      let ok = 0
      let failed = 0
      return runP(Effect.forEach(
        Array.from({ length: throughputConcurrency }),
        () =>
          Effect.gen(function*() {
            while (performance.now() < deadline && !signal.aborted) {
              const r = yield* Effect.either(once)
              if (r._tag === "Right") ok++
              else failed++
            }
          }),
        { concurrency: throughputConcurrency, discard: true }
      )).then(() => ({ ok, failed }))
    }
    const tput = (name: string, during: Tput["during"]): Tput => ({ name, during, ok: 0, failed: 0, ms: 0, treeMs: 0 })
    const oursT = tput("ours: account.ssh(\"true\"), 8 concurrent", effectWorkers(s.account.ssh("true")))
    const cmT = tput("ControlMaster: 8 concurrent ssh clients", promiseWorkers(() => run(cmCommand).then((c) => c === 0)))
    const spawnT = tput("local spawn('true'), 8 concurrent", promiseWorkers(() => run(["true"]).then((c) => c === 0)))
    const localT = tput("LocalAccount.ssh(\"true\"), 8 concurrent", effectWorkers(s.local.ssh("true")))
    const tputs = [oursT, cmT, spawnT, localT]
    for (const t of tputs) await t.during(500)
    for (let r = 0; r < throughputRounds; r++) {
      for (const t of rotate(tputs, r)) {
        check()
        const tree0 = treeCpuMs()
        const t0 = performance.now()
        const { ok, failed } = await t.during(throughputRoundMs)
        t.ms += performance.now() - t0
        t.treeMs += treeCpuMs() - tree0
        t.ok += ok
        t.failed += failed
      }
    }
    const perSec = (t: Tput) => t.ok / (t.ms / 1000)
    for (const t of tputs) {
      emit({ bench: "throughput", contender: t.name, commands: t.ok, failed: t.failed, seconds: round(t.ms / 1000), perSecond: round(perSec(t), 0), allCpuMsPerCmd: round(t.treeMs / (t.ok + t.failed)) })
    }
    const tCm = perSec(oursT) / perSec(cmT)
    rows.push({
      what: "throughput, conc 8: ours / ControlMaster",
      ours: `${round(perSec(oursT), 0)} cmd/s`,
      anchor: `${round(perSec(cmT), 0)} cmd/s${cmT.failed > 0 ? ` (+${cmT.failed} refused)` : ""}`,
      ratio: round(tCm),
      target: "≥ 3",
      met: tCm >= 3,
      cpu: cpuPair(oursT.treeMs / oursT.ok, cmT.treeMs / (cmT.ok + cmT.failed), "ms/cmd")
    })
    const tSpawn = perSec(oursT) / perSec(spawnT)
    rows.push({
      what: "throughput, conc 8: ours / local spawn",
      ours: `${round(perSec(oursT), 0)} cmd/s`,
      anchor: `${round(perSec(spawnT), 0)} cmd/s`,
      ratio: round(tSpawn),
      target: "≥ 0.8",
      met: tSpawn >= 0.8,
      cpu: cpuPair(oursT.treeMs / oursT.ok, spawnT.treeMs / spawnT.ok, "ms/cmd")
    })
    rows.push({
      what: "throughput, conc 8: ours / LocalAccount (info)",
      ours: `${round(perSec(oursT), 0)} cmd/s`,
      anchor: `${round(perSec(localT), 0)} cmd/s`,
      ratio: round(perSec(oursT) / perSec(localT)),
      target: "—",
      met: true,
      cpu: cpuPair(oursT.treeMs / oursT.ok, localT.treeMs / localT.ok, "ms/cmd")
    })

    // -- 3. a 100 MiB file -----------------------------------------------------------------------------
    emit({ bench: "section", name: "100 MiB copy" })
    const bigSrc = NodePath.join(s.dir, "big.bin")
    {
      const fd = NodeFs.openSync(bigSrc, "w")
      for (let i = 0; i < bigFileMiB; i++) NodeFs.writeSync(fd, Crypto.randomBytes(1 << 20))
      NodeFs.closeSync(fd)
    }
    const bigHash = await sha256File(bigSrc)
    const scpBase = ["scp", "-q", ...sshBase, "-P", String(s.port)]
    interface Copy {
      readonly name: string
      readonly copy: (src: string, dest: string) => Promise<void>
      ms: Array<number>
      treeMs: number
      verified: boolean
    }
    const scpCopy = (extra: ReadonlyArray<string>) => (src: string, dest: string) =>
      runOk([...scpBase, ...extra, src, `${target}:${dest}`]).then(() => undefined)
    const copy = (name: string, f: Copy["copy"]): Copy => ({ name, copy: f, ms: [], treeMs: 0, verified: false })
    const oursCopy = (src: string, dest: string) => runP(s.account.copyTo(src, dest))
    const bigs = [copy("ours: copyTo (SFTP, 64 × 128 KiB in flight)", oursCopy), copy("scp (SFTP mode)", scpCopy([])), copy("scp -O (legacy protocol)", scpCopy(["-O"]))]
    const bigDest = NodePath.join(s.remoteDir, "big.bin")
    const remoteSha = async (path: string) =>
      (await runP(s.account.sshOutput(["sha256sum", "--", path]))).split(" ")[0]
    for (const b of bigs) {
      NodeFs.rmSync(bigDest, { force: true })
      await b.copy(bigSrc, bigDest) // warm-up, and the checksum once
      const remote = await remoteSha(bigDest)
      b.verified = remote === bigHash
      if (!b.verified) throw new Error(`${b.name}: sha256 mismatch (${remote} vs ${bigHash})`)
    }
    for (let r = 0; r < copyRounds; r++) {
      for (const b of rotate(bigs, r)) {
        check()
        NodeFs.rmSync(bigDest, { force: true })
        const tree0 = treeCpuMs()
        const t0 = performance.now()
        await b.copy(bigSrc, bigDest)
        b.ms.push(performance.now() - t0)
        b.treeMs += treeCpuMs() - tree0
      }
    }
    NodeFs.rmSync(bigDest, { force: true })
    const mibps = (c: Copy) => bigFileMiB / (median(c.ms) / 1000)
    const cpuPerMiB = (c: Copy) => c.treeMs / (c.ms.length * bigFileMiB)
    for (const b of bigs) {
      emit({ bench: "copy 100 MiB", contender: b.name, runs: b.ms.length, medianMs: round(median(b.ms), 0), mibPerSecond: round(mibps(b), 0), allCpuMsPerMiB: round(b.treeMs / (b.ms.length * bigFileMiB)), sha256Verified: b.verified })
    }
    const [oursBig, scpBig, scpOBig] = bigs as [Copy, Copy, Copy]
    const bigRatio = mibps(oursBig) / mibps(scpBig)
    rows.push({
      what: "100 MiB copyTo / scp",
      ours: `${round(mibps(oursBig), 0)} MiB/s`,
      anchor: `${round(mibps(scpBig), 0)} MiB/s`,
      ratio: round(bigRatio),
      target: "≥ 3",
      met: bigRatio >= 3,
      cpu: cpuPair(cpuPerMiB(oursBig), cpuPerMiB(scpBig), "ms/MiB")
    })
    rows.push({
      what: "100 MiB copyTo / scp -O (info)",
      ours: `${round(mibps(oursBig), 0)} MiB/s`,
      anchor: `${round(mibps(scpOBig), 0)} MiB/s`,
      ratio: round(mibps(oursBig) / mibps(scpOBig)),
      target: "—",
      met: true,
      cpu: cpuPair(cpuPerMiB(oursBig), cpuPerMiB(scpOBig), "ms/MiB")
    })
    NodeFs.rmSync(bigSrc, { force: true })

    // -- 4. 1,000 small files --------------------------------------------------------------------------
    emit({ bench: "section", name: "1000 x 4 KiB copy" })
    const smallSrc = NodePath.join(s.dir, "small")
    NodeFs.mkdirSync(smallSrc)
    for (let i = 0; i < smallFiles; i++) {
      NodeFs.writeFileSync(NodePath.join(smallSrc, `f${String(i).padStart(4, "0")}.bin`), Crypto.randomBytes(smallFileBytes))
    }
    const smalls = [copy("ours: copyTo (a directory: one tar stream)", oursCopy), copy("scp -r (SFTP mode)", scpCopy(["-r"])), copy("scp -O -r (legacy protocol)", scpCopy(["-O", "-r"]))]
    const smallDest = NodePath.join(s.remoteDir, "small")
    for (const c of smalls) {
      NodeFs.rmSync(smallDest, { recursive: true, force: true })
      await c.copy(smallSrc, smallDest)
      const copied = NodeFs.readdirSync(smallDest)
      c.verified = copied.length === smallFiles &&
        copied.every((f) => NodeFs.statSync(NodePath.join(smallDest, f)).size === smallFileBytes)
      if (!c.verified) throw new Error(`${c.name}: ${copied.length} files arrived, not ${smallFiles} of ${smallFileBytes} bytes`)
    }
    for (let r = 0; r < copyRounds; r++) {
      for (const c of rotate(smalls, r)) {
        check()
        NodeFs.rmSync(smallDest, { recursive: true, force: true })
        const tree0 = treeCpuMs()
        const t0 = performance.now()
        await c.copy(smallSrc, smallDest)
        c.ms.push(performance.now() - t0)
        c.treeMs += treeCpuMs() - tree0
      }
    }
    NodeFs.rmSync(smallDest, { recursive: true, force: true })
    NodeFs.rmSync(smallSrc, { recursive: true, force: true })
    const filesPerSec = (c: Copy) => smallFiles / (median(c.ms) / 1000)
    const cpuPerFile = (c: Copy) => c.treeMs / (c.ms.length * smallFiles)
    for (const c of smalls) {
      emit({ bench: "copy 1000 x 4 KiB", contender: c.name, runs: c.ms.length, medianMs: round(median(c.ms), 0), filesPerSecond: round(filesPerSec(c), 0), allCpuMsPerFile: round(c.treeMs / (c.ms.length * smallFiles), 3), verified: c.verified })
    }
    const [oursSmall, scpSmall, scpOSmall] = smalls as [Copy, Copy, Copy]
    const smallRatio = filesPerSec(oursSmall) / filesPerSec(scpSmall)
    rows.push({
      what: "1000 × 4 KiB copyTo / scp -r",
      ours: `${round(filesPerSec(oursSmall), 0)} files/s`,
      anchor: `${round(filesPerSec(scpSmall), 0)} files/s`,
      ratio: round(smallRatio),
      target: "≥ 1.5",
      met: smallRatio >= 1.5,
      cpu: cpuPair(cpuPerFile(oursSmall), cpuPerFile(scpSmall), "ms/file", 3)
    })
    rows.push({
      what: "1000 × 4 KiB copyTo / scp -O -r (info)",
      ours: `${round(filesPerSec(oursSmall), 0)} files/s`,
      anchor: `${round(filesPerSec(scpOSmall), 0)} files/s`,
      ratio: round(filesPerSec(oursSmall) / filesPerSec(scpOSmall)),
      target: "—",
      met: true,
      cpu: cpuPair(cpuPerFile(oursSmall), cpuPerFile(scpOSmall), "ms/file", 3)
    })

    // -- 5. log line → detection -----------------------------------------------------------------------
    emit({ bench: "section", name: "log detection" })
    const logPath = NodePath.join(s.remoteDir, "service.log")
    NodeFs.writeFileSync(logPath, "started\n")
    let seq = 0
    /** Appends a line holding a fresh marker; when it was written. */
    const writeLine = (marker: string) => {
      const t = performance.now()
      NodeFs.appendFileSync(logPath, `${new Date().toISOString()} INFO something happened ${marker}\n`)
      return t
    }
    /** Waits until a `tail` of the log that was not running before is up, then a little more for its seek. */
    const tailUp = (before: ReadonlySet<number>) =>
      Effect.sync(() => [...tailPids(logPath)].some((p) => !before.has(p))).pipe(
        Effect.repeat({ schedule: tailStartPoll, until: (up) => up }),
        Effect.zipRight(Effect.sleep(`${10 + Math.random() * 20} millis`))
      )
    // Ours: a monitor, a waitUntil running (its tail up), then the line; from the write to waitUntil's return.
    const oursLog = Effect.gen(function*() {
      const marker = `marker-${process.pid}-${++seq}`
      const before = tailPids(logPath)
      const monitor = yield* s.account.monitorLog(logPath)
      const waiter = yield* Effect.fork(
        Effect.map(monitor.waitUntil(marker, { timeout: "10 seconds" }), () => performance.now())
      )
      // The line is written once its tail runs: we measure detection, not the start of `tail`.
      yield* tailUp(before)
      const written = writeLine(marker)
      const detected = yield* Fiber.join(waiter)
      return detected - written
    })
    // The same monitor's `lines`: when the line reaches us. waitUntil returns only after its scope has stopped the
    // tail (a kill over ssh, then the tail's exit), so the gap between the two is that stop.
    const oursSeen = Effect.gen(function*() {
      const marker = `marker-${process.pid}-${++seq}`
      const before = tailPids(logPath)
      const monitor = yield* s.account.monitorLog(logPath)
      const seen = yield* Deferred.make<number>()
      const reader = yield* Effect.fork(
        monitor.lines.pipe(
          Stream.filter((l) => l.includes(marker)),
          Stream.tap(() => Deferred.succeed(seen, performance.now())),
          Stream.take(1),
          Stream.runDrain
        )
      )
      yield* tailUp(before)
      const written = writeLine(marker)
      const detected = yield* Deferred.await(seen)
      yield* Fiber.join(reader)
      return detected - written
    })
    // ducktape's LogMonitor.wait_until: `tail -c +OFFSET LOG | grep PATTERN` over ssh until it matches, 100 ms apart.
    const ducktapeLog = Effect.gen(function*() {
      const marker = `marker-${process.pid}-${++seq}`
      const monitor = yield* s.account.monitorLog(logPath)
      const poll = s.account.exec(`tail -c +${monitor.offset + 1} ${Shell.quote(logPath)} | grep -- ${Shell.quote(marker)}`)
      const poller = yield* Effect.fork(
        poll.pipe(
          Effect.repeat({ schedule: ducktapePoll, until: (r) => r.exitCode === 0 }),
          Effect.map(() => performance.now())
        )
      )
      // A random phase against the 100 ms polls.
      yield* Effect.sleep(`${50 + Math.random() * 100} millis`)
      const written = writeLine(marker)
      const detected = yield* Fiber.join(poller)
      return detected - written
    })
    interface LogContender {
      readonly name: string
      readonly once: Effect.Effect<number, unknown>
      readonly samples: Array<number>
    }
    const logs: Array<LogContender> = [
      { name: "ours: monitorLog + waitUntil (tail -F stream)", once: oursLog, samples: [] as Array<number> },
      { name: "ours: the line seen on monitor.lines (same tail)", once: oursSeen, samples: [] as Array<number> },
      { name: "ducktape: poll tail -c +off | grep every 100 ms", once: ducktapeLog, samples: [] as Array<number> }
    ]
    for (const l of logs) for (let i = 0; i < 3; i++) await runP(l.once)
    for (let i = 0; i < logLines; i++) {
      for (const l of rotate(logs, i)) {
        check()
        l.samples.push(await runP(l.once))
      }
    }
    for (const l of logs) {
      emit({ bench: "log detection", contender: l.name, n: l.samples.length, p50Ms: round(median(l.samples)), p90Ms: round(quantile(l.samples, 0.9)), maxMs: round(Math.max(...l.samples)) })
    }
    const [oursL, seenL, dtL] = logs as [LogContender, LogContender, LogContender]
    rows.push({
      what: "log line → waitUntil returned, p50",
      ours: `${round(median(oursL.samples))} ms (p90 ${round(quantile(oursL.samples, 0.9))})`,
      anchor: `${round(median(dtL.samples))} ms (p90 ${round(quantile(dtL.samples, 0.9))})`,
      ratio: round(median(oursL.samples) / median(dtL.samples), 3),
      target: "p50 ≤ 5 ms",
      met: median(oursL.samples) <= 5
    })
    rows.push({
      what: "log line → seen on monitor.lines, p50 (info)",
      ours: `${round(median(seenL.samples))} ms (p90 ${round(quantile(seenL.samples, 0.9))})`,
      anchor: `${round(median(dtL.samples))} ms (p90 ${round(quantile(dtL.samples, 0.9))})`,
      ratio: round(median(seenL.samples) / median(dtL.samples), 3),
      target: "—",
      met: true
    })
  } finally {
    raw.end()
    await run(["ssh", "-S", controlPath, "-O", "exit", target])
    if (master.pid !== undefined && master.exitCode === null && master.signalCode === null) master.kill("SIGTERM")
  }

  // -- the table ---------------------------------------------------------------------------------------
  emit({ bench: "done" })
  const header = ["measurement", "ours", "anchor", "ratio", "target", "met", "CPU, all processes: ours vs anchor"]
  const lines = rows.map((r) => [
    r.what,
    r.ours,
    r.anchor,
    String(r.ratio),
    r.target,
    r.target === "—" ? "" : r.met ? "yes" : "NO",
    r.cpu ?? ""
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: ReadonlyArray<string>) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |"
  console.log()
  console.log(
    `${new Date().toISOString()}  ${NodeOs.cpus().length} cores  loadavg at start ${loadAtStart.join(" ")}, ` +
      `at end ${load().join(" ")}  node ${process.version}`
  )
  console.log(fmt(header))
  console.log(fmt(widths.map((w) => "-".repeat(w))))
  for (const l of lines) console.log(fmt(l))
}

const main = Effect.scoped(
  Effect.gen(function*() {
    emit({ bench: "start", date: new Date().toISOString() })
    const s = yield* setup
    yield* Effect.promise((signal) => harness(s, signal))
  })
)

NodeRuntime.runMain(main)
