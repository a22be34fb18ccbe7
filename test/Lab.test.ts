import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as Lab from "../src/Lab.js"

// Labs of concurrent test runs (and other agents) must not meet: names and directories carry our pid.
const tag = process.pid.toString(36)
const labName = (prefix: string) => `${prefix}${tag}`

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const sh = (argv: ReadonlyArray<string>): Effect.Effect<Ran> =>
  Effect.async<Ran>((resume) => {
    const [file, ...args] = argv
    const child = ChildProcess.execFile(file!, args, { encoding: "utf8" }, (error, stdout, stderr) =>
      resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 255, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const sshOptions = (lab: Lab.Lab) => [
  "-F",
  "/dev/null",
  "-i",
  lab.identityFile,
  "-o",
  `UserKnownHostsFile=${lab.knownHostsFile}`,
  "-o",
  "StrictHostKeyChecking=yes",
  "-o",
  "BatchMode=yes",
  "-o",
  "ConnectTimeout=5"
]

/** Runs a shell line on a node through its sshd, with the system OpenSSH client. */
const ssh = (lab: Lab.Lab, host: string, line: string) => sh(["ssh", ...sshOptions(lab), `root@${host}`, line])

const tempDir = (label: string) =>
  Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), `dt-lab-${label}-`)))

const isAlive = (pid: number) =>
  Effect.promise(() =>
    NodeFs.readFile(`/proc/${pid}/stat`, "utf8").then((s) => !/^\d+ \(.*\) Z/s.test(s), () => false)
  )

const sshdPids = (lab: Lab.Lab) =>
  Effect.forEach(lab.nodes, (n) => Effect.promise(() => NodeFs.readFile(n.pidFile, "utf8").then((t) => Number(t.trim()))))

/** What of a lab is still on the machine. */
const leftovers = (name: string) =>
  Effect.gen(function*() {
    const netns = (yield* sh(["ip", "netns", "list"])).stdout.split("\n").filter((l) => l.startsWith(`${name}-n`))
    const links = (yield* sh(["ip", "-o", "link", "show"])).stdout.split("\n").filter((l) => l.includes(`dt-${name}-`))
    const rules = (yield* sh(["iptables", "-S", "FORWARD"])).stdout.split("\n").filter((l) => l.includes(`dt-lab:${name}`))
    return { netns, links, rules }
  })

const nothingLeft = { netns: [], links: [], rules: [] }

const exists = (path: string) => Effect.promise(() => NodeFs.access(path).then(() => true, () => false))

/** Polls for the crashed `up` to reach a given point. */
const crashPointPoll = Schedule.spaced("5 millis")

/**
 * Runs `Lab.up` for each lab in one child process (one start-up cost) and SIGKILLs it: after every `up`
 * finished ("after-up") or as soon as the first lab's first namespace exists ("mid-up").
 */
const crashedUp = (labs: ReadonlyArray<{ readonly name: string; readonly dir: string }>, when: "after-up" | "mid-up") =>
  Effect.gen(function*() {
    const code = [
      `import { Effect } from "effect"`,
      `import * as Lab from ${JSON.stringify(NodePath.resolve("src/Lab.ts"))}`,
      `const labs = ${JSON.stringify(labs)}`,
      `Effect.runPromise(Effect.forEach(labs, (l) => Lab.up({ nodes: 3, name: l.name, dir: l.dir })))`,
      `  .then(() => { console.log("UP"); setInterval(() => {}, 1000) }, (e) => { console.error(String(e)); process.exit(3) })`
    ].join("\n")
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      cwd: NodePath.resolve("."),
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.on("data", (b: Buffer) => (out += b.toString()))
    const reached = when === "after-up"
      ? Effect.sync(() => out.includes("UP"))
      : Effect.map(sh(["ip", "netns", "list"]), (r) => r.stdout.includes(`${labs[0]!.name}-n1`))
    yield* reached.pipe(
      Effect.repeat({ schedule: crashPointPoll, until: (ok) => ok || child.exitCode !== null }),
      Effect.timeout("45 seconds")
    )
    child.kill("SIGKILL")
    yield* Effect.async<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      child.once("exit", () => resume(Effect.void))
    })
  })

describe("Lab", () => {
  it.live("brings up 3 separate hosts reachable over ssh, and takes them all down on scope close", () =>
    Effect.gen(function*() {
      const name = labName("la")
      const dir = yield* tempDir(name)
      let pids: ReadonlyArray<number> = []

      yield* Effect.scoped(Effect.gen(function*() {
        const lab = yield* Lab.scoped({ nodes: 3, name, dir })
        expect(lab.nodes.map((n) => n.name)).toEqual(["n1", "n2", "n3"])
        const prefix = lab.subnet.replace(/\.0\/24$/, "")
        expect(lab.nodes.map((n) => n.address)).toEqual([`${prefix}.11`, `${prefix}.12`, `${prefix}.13`])
        pids = yield* sshdPids(lab)

        // Each node answers with its own hostname, sees its workdir at the common path, and its own files there.
        for (const node of lab.nodes) {
          const r = yield* ssh(lab, node.address, `hostname && cd ${lab.workdir} && echo mine-${node.name} > whose && cat whose`)
          expect(r.stderr).toBe("")
          expect(r.stdout.split("\n").slice(0, 2)).toEqual([node.name, `mine-${node.name}`])
        }
        const n1 = lab.nodes[0]!
        const n2 = lab.nodes[1]!
        yield* ssh(lab, n1.address, `echo only-n1 > ${lab.workdir}/private`)
        expect((yield* ssh(lab, n2.address, `test -e ${lab.workdir}/private`)).code).toBe(1)
        expect(yield* Effect.promise(() => NodeFs.readFile(NodePath.join(n1.hostWorkdir, "private"), "utf8"))).toBe("only-n1\n")
        expect(yield* exists(NodePath.join(n2.hostWorkdir, "private"))).toBe(false)

        // Nodes reach each other, by name, across the bridge: n1 → n2 → n3 → n1.
        const ring = lab.nodes.map((node, i) => [node, lab.nodes[(i + 1) % lab.nodes.length]!] as const)
        for (const [from, to] of ring) {
          const inner = ["ssh", ...sshOptions(lab), `root@${to.name}`, "hostname"].join(" ")
          const r = yield* ssh(lab, from.address, inner)
          expect({ from: from.name, out: r.stdout.trim(), err: r.stderr }).toEqual({ from: from.name, out: to.name, err: "" })
        }

        // The cluster file is ducktape's format, pointing at the lab's key.
        const cluster = JSON.parse(yield* Effect.promise(() => NodeFs.readFile(lab.clusterFile, "utf8")))
        expect(cluster.nodes[0]).toEqual({
          ssh_config: { host: "n1", hostname: n1.address, user: "root", port: 22, identityfile: lab.identityFile },
          externally_routable_ip: n1.address,
          workdir: lab.workdir,
          netns: n1.netns
        })
        expect(cluster.known_hosts).toBe(lab.knownHostsFile)
        expect(yield* Lab.read(dir)).toEqual(lab)
        expect(yield* Lab.list).toContain(name)

        // Another lab may take neither this subnet nor this directory.
        const other = labName("lh")
        const otherDir = yield* tempDir(other)
        const clash = yield* Effect.flip(Lab.up({ nodes: 1, name: other, dir: otherDir, subnet: lab.subnet }))
        expect(clash.reason).toBe("subnet-in-use")
        expect(clash.message).toContain(lab.bridge)
        expect((yield* Effect.flip(Lab.up({ nodes: 1, name: other, dir }))).reason).toBe("dir-in-use")
        expect(yield* leftovers(other)).toEqual(nothingLeft)
        yield* Effect.promise(() => NodeFs.rm(otherDir, { recursive: true, force: true }))
      }))

      expect(pids).toHaveLength(3)
      for (const pid of pids) expect(yield* isAlive(pid)).toBe(false)
      expect(yield* leftovers(name)).toEqual(nothingLeft)
      expect(yield* exists(NodePath.join(dir, "cluster.json"))).toBe(false)
      expect(yield* Lab.list).not.toContain(name)

      // Idempotent: nothing left to do.
      const again = yield* Lab.down({ name, dir })
      expect(again).toMatchObject({ namespaces: [], links: [], processes: 0, iptablesRules: 0 })
      yield* Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
    }))

  it.live("after an up SIGKILLed when done: down removes everything, and a second up replaces the stale lab", () => {
    // Whatever an assertion below does, the crashed labs must not outlive the test.
    const downAll = Effect.forEach([labName("lb"), labName("lc")], (name) => Effect.ignore(Lab.down({ name })), { discard: true })
    return Effect.gen(function*() {
      const crashed = [{ name: labName("lb"), dir: yield* tempDir(labName("lb")) }, {
        name: labName("lc"),
        dir: yield* tempDir(labName("lc"))
      }] as const
      yield* crashedUp(crashed, "after-up")

      // down, by directory alone.
      const [first, second] = crashed
      expect((yield* leftovers(first.name)).netns).toHaveLength(3)
      const firstPids = yield* sshdPids(yield* Lab.read(first.dir))
      for (const pid of firstPids) expect(yield* isAlive(pid)).toBe(true)
      const summary = yield* Lab.down({ dir: first.dir })
      expect(summary.name).toBe(first.name)
      expect(summary.survivors).toEqual([])
      expect(summary.processes).toBeGreaterThanOrEqual(3)
      for (const pid of firstPids) expect(yield* isAlive(pid)).toBe(false)
      expect(yield* leftovers(first.name)).toEqual(nothingLeft)
      expect(yield* exists(NodePath.join(first.dir, "lab.json"))).toBe(false)

      // A second up of the same name.
      const stalePids = yield* sshdPids(yield* Lab.read(second.dir))
      yield* Effect.scoped(Effect.gen(function*() {
        const lab = yield* Lab.scoped({ nodes: 2, name: second.name, dir: second.dir })
        for (const pid of stalePids) expect(yield* isAlive(pid)).toBe(false)
        const r = yield* ssh(lab, lab.nodes[1]!.address, "hostname")
        expect(r.stdout.trim()).toBe("n2")
        expect((yield* leftovers(second.name)).netns).toHaveLength(2)
      }))
      expect(yield* leftovers(second.name)).toEqual(nothingLeft)
      for (const l of crashed) yield* Effect.promise(() => NodeFs.rm(l.dir, { recursive: true, force: true }))
    }).pipe(Effect.ensuring(downAll))
  })

  it.scopedLive("down removes a lab whose up was SIGKILLed half way", () =>
    Effect.gen(function*() {
      const name = labName("ld")
      const dir = yield* tempDir(name)
      yield* Effect.addFinalizer(() => Effect.ignore(Lab.down({ name })))
      yield* crashedUp([{ name, dir }], "mid-up")
      expect((yield* leftovers(name)).netns.length).toBeGreaterThan(0)
      const summary = yield* Lab.down({ name, dir })
      expect(summary.survivors).toEqual([])
      expect(yield* leftovers(name)).toEqual(nothingLeft)
      expect(yield* exists(NodePath.join(dir, "lab.json"))).toBe(false)
      yield* Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
    }))

  it.live("an up that fails half way leaves nothing behind and says why", () =>
    Effect.gen(function*() {
      const name = labName("le")
      const dir = yield* tempDir(name)
      // A bad sshd option fails after the namespaces, bridge and rules exist.
      const error = yield* Effect.flip(Lab.up({ nodes: 2, name, dir, sshdConfig: ["NoSuchSshdOption yes"] }))
      expect(error._tag).toBe("LabError")
      expect(error.reason).toBe("sshd-failed")
      // The sshd log's complaint reaches the user, though the log itself is removed with the lab.
      expect(error.message).toContain("NoSuchSshdOption")
      expect(yield* leftovers(name)).toEqual(nothingLeft)
      expect(yield* exists(NodePath.join(dir, "lab.json"))).toBe(false)
      yield* Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
    }))

  it.live("layer provides the lab for the life of the layer", () =>
    Effect.gen(function*() {
      const name = labName("lg")
      const dir = yield* tempDir(name)
      const hostname = yield* Effect.gen(function*() {
        const lab = yield* Lab.Lab
        return (yield* ssh(lab, lab.nodes[0]!.address, "hostname")).stdout.trim()
      }).pipe(Effect.provide(Lab.layer({ nodes: 1, name, dir })))
      expect(hostname).toBe("n1")
      expect(yield* leftovers(name)).toEqual(nothingLeft)
      yield* Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
    }))

  it.live("rejects bad options before making anything", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("bad")
      const badName = yield* Effect.flip(Lab.up({ nodes: 1, name: "Bad_Name", dir }))
      expect(badName.reason).toBe("invalid-options")
      const badNodes = yield* Effect.flip(Lab.up({ nodes: 0, name: labName("lf"), dir }))
      expect(badNodes.reason).toBe("invalid-options")
      const badSubnet = yield* Effect.flip(Lab.up({ nodes: 1, name: labName("lf"), dir, subnet: "10.1.2.3/16" }))
      expect(badSubnet.reason).toBe("invalid-options")
      expect(badSubnet.message).toContain("a.b.c.0/24")
      expect(yield* leftovers(labName("lf"))).toEqual(nothingLeft)
      yield* Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
    }))
})
