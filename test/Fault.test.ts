import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, expect, layer } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Option, Schedule } from "effect"
import * as Cluster from "../src/Cluster.js"
import type { ClusterNode } from "../src/Cluster.js"
import * as Fault from "../src/Fault.js"
import * as FaultLog from "../src/internal/service/faultLog.js"
import * as Lab from "../src/Lab.js"
import * as LocalAccount from "../src/LocalAccount.js"
import * as RemoteAccount from "../src/RemoteAccount.js"
import * as Service from "../src/Service.js"
import * as Shell from "../src/Shell.js"
import * as Wait from "../src/Wait.js"

// One 3-host lab for the whole file; its name and directory carry our pid so concurrent runs never meet.
const labName = `ft${process.pid.toString(36)}`
const labDir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-fault-${labName}-`))

// The lab removes what it wrote there; this removes the rest (the workdir of the test's local node).
afterAll(() => NodeFs.rmSync(labDir, { recursive: true, force: true }))

const LabCluster = Layer.unwrapEffect(Effect.map(Lab.Lab, (lab) => Cluster.fromFile(lab.clusterFile))).pipe(
  Layer.provideMerge(Lab.layer({ nodes: 3, name: labName, dir: labDir }))
)

const nodes = Effect.map(Cluster.Cluster, (c) => c.all as readonly [ClusterNode, ClusterNode, ClusterNode])

/**
 * Whether `from` can open a TCP connection to `to`'s sshd and read its banner. A dropped SYN never answers, so
 * "blocked" is the connection not being made within `within` (a lab connection takes milliseconds); a check that
 * expects success waits longer, so a slow machine cannot fail it.
 */
const reaches = (from: ClusterNode, to: ClusterNode, within = 1) =>
  from.account.exec([
    "timeout",
    String(within),
    "bash",
    "-c",
    `exec 3<>/dev/tcp/${to.account.externallyRoutableIp}/22 && head -c 7 <&3`
  ]).pipe(Effect.map((r) => r.exitCode === 0 && r.stdout === "SSH-2.0"))

/** Who reaches whom: `"n1>n2"` for every ordered pair, concurrently. */
const reachability = (all: ReadonlyArray<ClusterNode>, within = 1) =>
  Effect.map(
    Effect.forEach(
      all.flatMap((a) => all.filter((b) => b !== a).map((b) => [a, b] as const)),
      ([a, b]) => Effect.map(reaches(a, b, within), (ok) => (ok ? [`${a.name}>${b.name}`] : [])),
      { concurrency: "unbounded" }
    ),
    (r) => r.flat().sort()
  )

const everyPair = ["n1>n2", "n1>n3", "n2>n1", "n2>n3", "n3>n1", "n3>n2"]

/** Our rules left on the nodes (any rule with a ducktape comment), per node. */
const ourRules = (all: ReadonlyArray<ClusterNode>) =>
  Effect.map(
    Effect.forEach(all, (n) => n.account.sshOutput("iptables-save -t filter"), { concurrency: "unbounded" }),
    (outs) => outs.flatMap((o) => o.split("\n").filter((l) => l.includes("ducktape:")))
  )

const processState = (node: ClusterNode, pid: number) =>
  Effect.map(node.account.exec(["ps", "-o", "stat=", "-p", String(pid)]), (r) => r.stdout.trim())

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

layer(LabCluster, { excludeTestServices: true, timeout: "60 seconds" })("Fault on a 3-host lab", (it) => {
  it.effect("partition cuts traffic across groups both ways, keeps it within, and heals on scope close", () =>
    Effect.gen(function*() {
      const all = yield* nodes
      const [n1, n2, n3] = all
      expect(yield* reachability(all, 10)).toEqual(everyPair)

      yield* Effect.scoped(Effect.gen(function*() {
        const fault = yield* Fault.partition([[n1], [n2, n3]])
        expect(fault.description).toBe("n1 | n2 n3")
        expect(yield* reachability(all)).toEqual(["n2>n3", "n3>n2"])
        // Each node carries rules with this fault's comment; the driver still reaches every node (we ran commands).
        const rules = yield* ourRules(all)
        expect(rules.length).toBe(8) // n1: 2 peers × 2 directions; n2, n3: 1 peer × 2
        expect(rules.every((r) => r.includes(`:${fault.id}"`))).toBe(true)
      }))

      expect(yield* reachability(all, 10)).toEqual(everyPair)
      expect(yield* ourRules(all)).toEqual([])
    }))

  it.effect("a partition is healed when its scope is interrupted", () =>
    Effect.gen(function*() {
      const all = yield* nodes
      const [n1, n2, n3] = all
      const applied = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        yield* Fault.partition([[n1, n2], [n3]])
        yield* Deferred.succeed(applied, undefined)
        return yield* Effect.never
      })))
      yield* Deferred.await(applied)
      expect(yield* reaches(n1, n3)).toBe(false)
      expect((yield* ourRules(all)).length).toBe(8)

      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* ourRules(all)).toEqual([])
      expect(yield* reaches(n1, n3, 10)).toBe(true)
      expect(yield* reaches(n3, n2, 10)).toBe(true)
    }))

  it.effect("a partition is healed when its scope fails, and healing early makes the close a no-op", () =>
    Effect.gen(function*() {
      const all = yield* nodes
      const [n1, n2, n3] = all
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        yield* Fault.partition([[n1], [n2], [n3]])
        expect(yield* reaches(n2, n3)).toBe(false)
        return yield* Effect.fail("the test failed")
      })))
      expect(failureOf(exit)).toBe("the test failed")
      expect(yield* ourRules(all)).toEqual([])
      expect(yield* reachability(all, 10)).toEqual(everyPair)

      yield* Effect.scoped(Effect.gen(function*() {
        const fault = yield* Fault.isolate(n2)
        expect(fault.description).toBe("n2 | n1 n3")
        expect(yield* reachability(all)).toEqual(["n1>n3", "n3>n1"])
        yield* fault.heal
        expect(yield* ourRules(all)).toEqual([])
        expect(yield* reaches(n1, n2, 10)).toBe(true)
        yield* fault.heal
      }))
      expect(yield* ourRules(all)).toEqual([])
    }))

  it.effect("packet loss drops traffic with the chosen peers only, and its rules go with the scope", () =>
    Effect.gen(function*() {
      const all = yield* nodes
      const [n1, n2, n3] = all
      yield* Effect.scoped(Effect.gen(function*() {
        // Probability 1 to one peer: every packet with n2 is lost, n3 is untouched.
        yield* Fault.packetLoss(n1, 1, { peers: [n2] })
        const [toN2, fromN2, toN3] = yield* Effect.all([reaches(n1, n2), reaches(n2, n1), reaches(n1, n3, 10)], {
          concurrency: "unbounded"
        })
        expect({ toN2, fromN2, toN3 }).toEqual({ toN2: false, fromN2: false, toN3: true })
      }))
      expect(yield* ourRules(all)).toEqual([])

      yield* Effect.scoped(Effect.gen(function*() {
        const fault = yield* Fault.packetLoss(n3, 0.25)
        const rules = yield* ourRules([n3])
        expect(rules).toHaveLength(2)
        for (const rule of rules) {
          expect(rule).toContain("-m statistic --mode random --probability 0.25")
          expect(rule).toContain(`:${fault.id}"`)
          expect(rule).toMatch(/! -[sd] \S+\/32/) // the driver is spared
        }
        // Commands keep working: the driver's ssh is never dropped.
        expect(yield* n3.account.sshOutput("echo still-here")).toBe("still-here\n")
      }))
      expect(yield* ourRules(all)).toEqual([])
    }))

  it.effect("bandwidth puts an htb limit on the node's interface, refuses a second one, and removes it", () =>
    Effect.gen(function*() {
      const [, n2] = yield* nodes
      const qdisc = n2.account.sshOutput("tc qdisc show dev eth0 root")
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Fault.bandwidth(n2, "2mbit")
        expect(yield* qdisc).toMatch(/^qdisc htb dd7a: root/)
        expect(yield* n2.account.sshOutput("tc class show dev eth0")).toContain("rate 2Mbit")
        const second = yield* Effect.flip(Fault.bandwidth(n2, "1mbit"))
        expect(second._tag).toBe("FaultError")
        expect(second.message).toContain("already has a bandwidth limit")
        // The refused fault did not remove the first one.
        expect(yield* qdisc).toMatch(/^qdisc htb dd7a: root/)
      }))
      expect(yield* qdisc).toMatch(/^qdisc noqueue 0: root/)
    }))

  it.effect("pause stops a process (state T) and continues it on release, by pid or by pattern", () =>
    Effect.gen(function*() {
      const [n1] = yield* nodes
      yield* Effect.scoped(Effect.gen(function*() {
        const proc = yield* n1.account.startProcess("exec sleep 3141")
        yield* Effect.scoped(Effect.gen(function*() {
          const paused = yield* Fault.pause(n1, proc.pid)
          expect(paused.pids).toEqual([proc.pid])
          expect(yield* processState(n1, proc.pid)).toMatch(/^T/)
        }))
        expect(yield* processState(n1, proc.pid)).toMatch(/^S/)

        yield* Effect.scoped(Effect.gen(function*() {
          const paused = yield* Fault.pause(n1, "sleep 3141")
          expect(paused.pids).toEqual([proc.pid])
          expect(yield* processState(n1, proc.pid)).toMatch(/^T/)
        }))
        expect(yield* processState(n1, proc.pid)).toMatch(/^S/)

        const none = yield* Effect.flip(Fault.pause(n1, "no-such-process-anywhere"))
        expect(none.message).toContain("no process matches")
      }))
    }))

  it.effect("kill signals once (default KILL) and is recorded in the fault log", () =>
    Effect.gen(function*() {
      const [, , n3] = yield* nodes
      const log = FaultLog.makeLog()
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        const proc = yield* n3.account.startProcess("exec sleep 2718")
        expect(yield* Fault.kill(n3, proc.pid)).toEqual([proc.pid])
        expect(yield* proc.exitCode).toBe(128 + 9)
        return proc.pid
      })).pipe(Effect.provideService(FaultLog.FaultLog, log))
      expect(log.records).toHaveLength(1)
      expect(log.records[0]).toMatchObject({ kind: "kill", target: "n3", detail: `SIGKILL pid ${pid}` })
      // A kill is not healed: the record says it was not restarted.
      expect(log.records[0]!.healedAt).toBeUndefined()
      expect(log.records[0]!.outcome).toBe("not restarted")
    }))

  it.effect("bounce and kill with restart go through the service, and are recorded", () =>
    Effect.gen(function*() {
      const log = FaultLog.makeLog()
      const pidFile = "sleeper.pid"
      const Sleeper = Service.make({
        name: "sleeper",
        startNode: (node) =>
          Effect.flatMap(node.account.startProcess("exec sleep 4711"), (p) => node.account.createFile(pidFile, String(p.pid)))
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const sleeper = yield* Sleeper.start()
        const node = sleeper.node(1)
        const pid = Effect.map(node.account.readFile(pidFile), Number)
        const first = yield* pid
        yield* Fault.bounce(sleeper, node)
        const second = yield* pid
        expect(second).not.toBe(first)
        expect(yield* node.account.alive(first)).toBe(false)

        expect(yield* Fault.kill(node, "sleep 4711", { restart: sleeper })).toEqual([second])
        const third = yield* pid
        expect(third).not.toBe(second)
        expect(yield* node.account.alive(third)).toBe(true)
      })).pipe(Effect.provideService(FaultLog.FaultLog, log))
      expect(log.records.map((r) => [r.kind, r.healedAt, r.outcome])).toEqual([["bounce", undefined, "restarted"], ["kill", undefined, "restarted"]])
      for (const r of log.records) expect(r.restartedAt).toBeGreaterThanOrEqual(r.appliedAt)
      expect(log.records[1]!.detail).toBe(`SIGKILL processes matching "sleep 4711", then restart sleeper-1 node 1 on ${log.records[1]!.target}`)
    }))

  it.effect("during applies a fault again and again, records each, and heals everything when the scope closes", () =>
    Effect.gen(function*() {
      const all = yield* nodes
      const log = FaultLog.makeLog()
      yield* Effect.scoped(Effect.gen(function*() {
        const chaos = yield* Fault.during(
          Schedule.spaced("50 millis"),
          () => Effect.flatMap(Fault.randomNode(all), (n) => Fault.isolate(n)),
          { hold: "100 millis" }
        )
        yield* Wait.waitUntil(Effect.map(chaos.applied, (n) => n >= 3), { timeout: "30 seconds" })
        yield* chaos.check
      })).pipe(Effect.provideService(FaultLog.FaultLog, log))
      expect(yield* ourRules(all)).toEqual([])
      expect(log.records.length).toBeGreaterThanOrEqual(3)
      expect(log.records.every((r) => r.kind === "isolate" && r.healedAt !== undefined)).toBe(true)
    }))

  it.effect("during fails at once when its first fault cannot be applied", () =>
    Effect.gen(function*() {
      const [n1] = yield* nodes
      const error = yield* Effect.flip(Effect.scoped(
        Fault.during(Schedule.spaced("1 second"), () => Fault.bandwidth(n1, "very fast"), { hold: "1 second" })
      ))
      expect(error.message).toContain("is not a tc rate")
    }))

  it.effect("refuses nodes outside the test's cluster, and nodes that share the driver's network stack", () =>
    Effect.gen(function*() {
      const lab = yield* Lab.Lab
      const labCluster = yield* Cluster.Cluster
      const [n1, n2] = yield* nodes
      yield* Effect.gen(function*() {
        const local = (yield* Cluster.Cluster).all
        // On the localhost cluster network faults are impossible, and the error says what to use instead.
        const onLocal = yield* Effect.flip(Effect.scoped(Fault.partition([[local[0]!], [local[1]!]])))
        expect(onLocal._tag).toBe("FaultError")
        expect(onLocal.message).toContain("localhost nodes share one network stack")
        expect(onLocal.message).toContain("use `ducktape lab up` or real hosts")
        expect(yield* Effect.flip(Effect.scoped(Fault.bandwidth(local[1]!, "1mbit")))).toMatchObject({
          fault: "bandwidth",
          node: "worker2"
        })
        // A localhost node given to a fault in the lab's cluster: not one of its nodes.
        const stranger = yield* Effect.flip(Effect.scoped(Fault.partition([[n1], [local[0]!]]))).pipe(
          Effect.provideService(Cluster.Cluster, labCluster)
        )
        expect(stranger.message).toContain("not one of this test's nodes (n1 n2 n3)")
      }).pipe(Effect.provide(Cluster.localhost({ numNodes: 2 })))

      // A node with a routable address that is in fact this machine's own network stack (the lab's bridge).
      const driverNode: ClusterNode = {
        name: "driver",
        index: 3,
        nodeType: undefined,
        account: yield* LocalAccount.make({ hostname: "driver", workdir: NodePath.join(labDir, "driver"), address: lab.gateway })
      }
      const ownStack = yield* Effect.flip(Effect.scoped(Fault.partition([[n2], [driverNode]]))).pipe(
        Effect.provideService(Cluster.Cluster, yield* Cluster.make([...labCluster.all, driverNode]))
      )
      expect(ownStack).toMatchObject({ fault: "partition", node: "driver" })
      expect(ownStack.message).toContain("network stack of the machine running the tests")
      // Nothing was applied on the lab.
      expect(yield* ourRules([n1, n2])).toEqual([])
    }).pipe(Effect.scoped))

  it.effect("refuses a node whose user is not root, saying so", () =>
    Effect.gen(function*() {
      const [n1, n2] = yield* nodes
      // The lab's sshds admit root only (other local accounts are locked), so the non-root user is made on the
      // node itself: the same ssh connection, every command dropped to uid 65534 with setpriv.
      const backend = n1.account.backend
      const nobody: ClusterNode = {
        ...n1,
        account: RemoteAccount.make({
          ...backend,
          identity: { ...backend.identity, user: "nobody" },
          exec: (line, stdin) =>
            backend.exec(`exec setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh -c ${Shell.quote(line)}`, stdin)
        })
      }
      expect(yield* nobody.account.sshOutput("id -u")).toBe("65534\n")
      const error = yield* Effect.flip(Effect.scoped(Fault.partition([[nobody], [n2]])))
      expect(error).toMatchObject({ fault: "partition", node: "n1" })
      expect(error.message).toContain("runs commands as nobody (uid 65534); iptables and tc need root")
      expect(error.message).toContain("connect to the node as root")
      expect(yield* ourRules([n1, n2])).toEqual([])
      // Process faults need no root: nobody may pause its own processes.
      yield* Effect.scoped(Effect.gen(function*() {
        const proc = yield* nobody.account.startProcess("exec sleep 1618")
        yield* Effect.scoped(Fault.pause(nobody, proc.pid))
        expect(yield* processState(n1, proc.pid)).toMatch(/^S/)
      }))
    }))
})
