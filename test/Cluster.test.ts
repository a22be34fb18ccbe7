import * as NodeFs from "node:fs"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Exit, Layer, Scope } from "effect"
import * as Cluster from "../src/Cluster.js"
import { clusterJsonWarnings, parseClusterJson } from "../src/internal/cluster/clusterFile.js"
import { readSshConfig } from "../src/internal/cluster/sshConfig.js"
import { PendingQueue } from "../src/internal/runner/scheduler.js"
import * as selection from "../src/internal/runner/discovery/selection.js"
import * as Test from "../src/Test.js"
import * as SshAccount from "../src/SshAccount.js"
import * as Sshd from "../src/Sshd.js"
import { scopedLab } from "./support/lab.js"
import * as SshdSupport from "./support/sshd.js"

/** A TCP port nothing listens on (bound, then released). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = NodeNet.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as NodeNet.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const fakeNodes = (types: ReadonlyArray<string | undefined>): ReadonlyArray<Cluster.ClusterNode> =>
  types.map((nodeType, index) => ({ name: `n${index + 1}`, index, account: undefined as never, nodeType }))

describe("Cluster allocation", () => {
  it.effect("serves typed requests first, lets untyped ones take any type, and frees on scope close", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.make(fakeNodes(["large", undefined, undefined, "large"]))
      const scope = yield* Scope.make()
      const got = yield* Scope.extend(cluster.alloc([{ numNodes: 1, nodeType: "large" }, { numNodes: 2 }]), scope)
      expect(got.map((n) => n.nodeType)).toEqual(["large", undefined, undefined])
      expect((yield* cluster.available).map((n) => n.name)).toEqual(["n4"])
      expect(yield* cluster.fitsNow(1)).toBe(true)
      expect(yield* cluster.fitsNow([{ numNodes: 1, nodeType: "small" }])).toBe(false)
      // An untyped request may take a typed node when no untyped one is left.
      const last = yield* Scope.extend(cluster.alloc(1), scope)
      expect(last[0]!.name).toBe("n4")
      expect(yield* cluster.maxUsed).toBe(4)
      yield* Scope.close(scope, Exit.void)
      expect((yield* cluster.available)).toHaveLength(4)
    }))

  it.effect("the scheduler's core takes lowest-numbered nodes or nothing, and gives them back", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.make(fakeNodes([undefined, "large", undefined, undefined]))
      const pool = cluster[Cluster.PoolTypeId]
      const first = pool.tryTake(2)
      expect(first?.map((n) => n.name)).toEqual(["n1", "n3"])
      expect(pool.tryTake([{ numNodes: 2, nodeType: "large" }])).toBeUndefined()
      expect(pool.tryTake(3)).toBeUndefined()
      expect((yield* cluster.available).map((n) => n.name)).toEqual(["n2", "n4"])
      pool.giveBack(first!)
      pool.giveBack(first!)
      expect((yield* cluster.available).map((n) => n.name)).toEqual(["n1", "n2", "n3", "n4"])
      expect(pool.tryTake(1)?.map((n) => n.name)).toEqual(["n1"])
    }))

  it.effect("fails an impossible request at once with what was asked and what there is, changing nothing", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.make(fakeNodes(["large", undefined]))
      const error = yield* Effect.flip(Effect.scoped(cluster.alloc([{ numNodes: 2, nodeType: "large" }])))
      expect(error._tag).toBe("InsufficientResources")
      expect(error.message).toBe("not enough nodes: requested 2 nodes (2 large); available 2 nodes (1 large)")
      expect(yield* cluster.available).toHaveLength(2)
      expect(cluster.fitsEver(3)).toBe(false)
      expect(cluster.fitsEver([{ numNodes: 1, nodeType: "large" }, { numNodes: 1 }])).toBe(true)
    }))

  it.effect("a localhost cluster gives each node its own workdir and loopback address, and removes them after", () =>
    Effect.gen(function*() {
      let root = ""
      yield* Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        expect(cluster.all.map((n) => n.account.externallyRoutableIp)).toEqual(["127.0.0.11", "127.0.0.12", "127.0.0.13"])
        const dirs = cluster.all.map((n) => n.account.workdir)
        expect(new Set(dirs).size).toBe(3)
        root = NodePath.dirname(dirs[0]!)
        expect(NodeFs.existsSync(dirs[2]!)).toBe(true)
      }).pipe(Effect.provide(Cluster.localhost({ numNodes: 3 })))
      expect(NodeFs.existsSync(root)).toBe(false)
      const bad = yield* Effect.flip(Layer.build(Cluster.localhost({ numNodes: 0 })).pipe(Effect.scoped))
      expect(bad.message).toMatch(/fix: pass e.g. --cluster localhost:3/)
    }))
})

describe("cluster sources", () => {
  it("reads ducktape's cluster.json as-is, with defaults and paths relative to the file", () => {
    const nodes = Either.getOrThrow(parseClusterJson("/etc/dt/cluster.json", JSON.stringify({
      nodes: [
        { ssh_config: { host: "w1", hostname: "10.0.0.1", user: "root", port: 2222, identityfile: "keys/id", connecttimeout: 5, extra: 1 }, externally_routable_ip: "192.168.0.1", node_type: "large" },
        { ssh_config: { host: "w2" } }
      ],
      known_hosts: "kh"
    })))
    expect(nodes[0]).toMatchObject({ host: "w1", hostname: "10.0.0.1", port: 2222, identityFile: "/etc/dt/keys/id", connectTimeoutSeconds: 5, externallyRoutableIp: "192.168.0.1", nodeType: "large", knownHostsFile: "/etc/dt/kh" })
    expect(nodes[1]).toMatchObject({ host: "w2", hostname: "localhost", port: 22, user: undefined })
  })

  it("warns about keys it does not read, naming file, nodes and the likely key", () => {
    const warnings = clusterJsonWarnings("c.json", JSON.stringify({
      nodes: [
        { ssh_config: { host: "a", identity_file: "k" }, externaly_routable_ip: "10.0.0.1" },
        { ssh_config: { host: "b", identity_file: "k", StrictHostKeyChecking: "no" } }
      ],
      knownhosts: "kh"
    }))
    expect(warnings).toEqual([
      `c.json: knownhosts: ducktape does not read the key "knownhosts" and ignores it; did you mean "known_hosts"?`,
      `c.json: nodes[0].externaly_routable_ip: ducktape does not read the key "externaly_routable_ip" and ignores it; did you mean "externally_routable_ip"?`,
      `c.json: nodes[0].ssh_config.identity_file, nodes[1].ssh_config.identity_file: ducktape does not read the key "identity_file" and ignores it; did you mean "identityfile"?`,
      `c.json: nodes[1].ssh_config.StrictHostKeyChecking: ducktape does not read the key "StrictHostKeyChecking" and ignores it; did you mean "stricthostkeychecking"?`
    ])
    expect(clusterJsonWarnings("c.json", JSON.stringify({ nodes: [{ ssh_config: { host: "a", zzz: 1 } }] }))[0]).not.toContain("did you mean")
    // What a lab writes for its own commands is not warned about.
    expect(clusterJsonWarnings("c.json", JSON.stringify({ nodes: [{ ssh_config: { host: "a" }, netns: "x" }], lab: {} }))).toEqual([])
    // Nor what `ducktape docker up` writes.
    expect(clusterJsonWarnings("c.json", JSON.stringify({ nodes: [{ ssh_config: { host: "a" } }], docker: { name: "x", endpoints: [] } }))).toEqual([])
  })

  it("names the path of every bad field, and bad JSON", () => {
    const message = (text: string) => Either.getLeft(parseClusterJson("c.json", text)).pipe((o) => (o._tag === "Some" ? o.value.message : ""))
    const m = message(JSON.stringify({ nodes: [{ ssh_config: { host: "a", port: 70000 } }, { ssh_config: { hostname: "x" } }, {}] }))
    expect(m).toContain("nodes[0].ssh_config.port")
    expect(m).toContain("nodes[1].ssh_config.host")
    expect(m).toContain("nodes[2].ssh_config: is missing")
    expect(message("{ nodes: ")).toMatch(/c.json: not valid JSON/)
    expect(message("[]")).toMatch(/\(top level\)/)
  })

  /** A file in a fresh temp directory (removed with the scope). */
  const tempFile = (name: string, text: string) =>
    Effect.acquireRelease(
      Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "dt-cluster-"))),
      (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
    ).pipe(Effect.map((dir) => {
      const path = NodePath.join(dir, name)
      NodeFs.writeFileSync(path, text)
      return path
    }))

  it.scoped("reads an OpenSSH config (as `vagrant ssh-config` writes it), with Host * defaults", () =>
    Effect.gen(function*() {
      const text = `Host *\n  User vagrant\n\nHost worker1\n  HostName 192.168.56.11\n  Port 2200\n  IdentityFile /k/w1\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  ConnectTimeout 7\n\nHost worker2 worker3\n  HostName=10.1.1.1\n  User root\n`
      const nodes = yield* readSshConfig(yield* tempFile("ssh_config", text))
      expect(nodes.map((n) => [n.host, n.hostname, n.user, n.port])).toEqual([
        ["worker1", "192.168.56.11", "vagrant", 2200],
        ["worker2", "10.1.1.1", "vagrant", 22],
        ["worker3", "10.1.1.1", "vagrant", 22]
      ])
      expect(nodes[0]).toMatchObject({ strictHostKeyChecking: false, identityFile: "/k/w1", knownHostsFile: "/dev/null", connectTimeoutSeconds: 7 })
      // What the file does not set stays unset (ssh's defaults are not taken for settings).
      expect(nodes[1]).toMatchObject({ strictHostKeyChecking: undefined, identityFile: undefined, knownHostsFile: undefined, connectTimeoutSeconds: undefined })
      // A routable HostName is the node's address; a loopback one (a forwarded port) is asked of the node.
      expect(nodes[0]!.externallyRoutableIp).toBe("192.168.56.11")
      expect(nodes[0]!.askExternallyRoutableIp).toBe(false)
      const forwarded = yield* readSshConfig(yield* tempFile("ssh_config", "Host default\n  HostName 127.0.0.1\n  Port 2222\n"))
      expect([forwarded[0]!.externallyRoutableIp, forwarded[0]!.askExternallyRoutableIp]).toEqual([undefined, true])
    }))

  it.scoped("reads ssh_config as OpenSSH does: negated patterns, Include, Match", () =>
    Effect.gen(function*() {
      const included = yield* tempFile("nodes.conf", "Host worker9\n  HostName 10.0.0.9\n")
      const text = `Include ${included}\nHost * !bastion\n  User alice\nHost bastion\n  HostName 10.0.0.1\n` +
        `Match originalhost worker*\n  Port 2200\nHost worker1\n  HostName 10.0.0.11\n`
      const nodes = yield* readSshConfig(yield* tempFile("ssh_config", text))
      const byName = Object.fromEntries(nodes.map((n) => [n.host, n]))
      // `Host * !bastion` does not apply to bastion: its user is the default, not alice.
      expect(byName["bastion"]!.user).not.toBe("alice")
      expect(byName["worker1"]).toMatchObject({ user: "alice", port: 2200, hostname: "10.0.0.11" })
      expect(byName["worker9"]).toMatchObject({ user: "alice", port: 2200, hostname: "10.0.0.9" })
    }))

  it.scoped("refuses what ssh refuses with file and line and a likely option; ProxyCommand clearly; reads ProxyJump", () =>
    Effect.gen(function*() {
      const refuse = (text: string) => Effect.flip(Effect.flatMap(tempFile("ssh_config", text), readSshConfig))
      const typo = yield* refuse("Host a\n  HostName 10.0.0.1\n  Conecttimeout 5\n")
      expect(typo.source).toMatch(/ssh_config:3$/)
      expect(typo.message).toMatch(/Bad configuration option: conecttimeout/)
      expect(typo.fix).toContain("did you mean ConnectTimeout?")
      const port = yield* refuse("Host a\n  Port many\n")
      expect(port.source).toMatch(/ssh_config:2$/)
      expect(port.message).toContain("many")
      const proxyCommand = yield* refuse("Host a\n  ProxyCommand nc %h %p\n")
      expect(proxyCommand.message).toContain("Host a: ProxyCommand is not supported")
      expect(proxyCommand.fix).toContain("ProxyJump")
      const nodes = yield* readSshConfig(yield* tempFile("ssh_config",
        "Host outer\n  HostName 192.0.2.1\n  User gate\nHost bastion\n  HostName 10.0.0.1\n  Port 2201\n  ProxyJump outer\n" +
          "Host a\n  HostName 10.1.0.5\n  ProxyJump ops@bastion,10.1.0.2:2022\n"))
      const a = nodes.find((n) => n.host === "a")!
      expect(a.proxyJump?.map((j) => [j.user, j.hostname, j.port])).toEqual([
        ["gate", "192.0.2.1", 22], // bastion's own ProxyJump comes first, as with ssh -J
        ["ops", "10.0.0.1", 2201],
        [NodeOs.userInfo().username, "10.1.0.2", 2022]
      ])
      // Jump hosts are bastions, not nodes.
      expect(nodes.map((n) => n.host)).toEqual(["a"])
    }))

  it.scopedLive("unreachable nodes: one line per cause, unknown host and changed key told apart, fixes in the file's own words", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.start
      const port = fixture.sshd.port
      const user = NodeOs.userInfo().username
      const key = fixture.clientKey.privateKeyPath
      const empty = yield* tempFile("known_hosts", "")
      const impostor = yield* tempFile("known_hosts", `[127.0.0.1]:${port} ${fixture.clientKey.publicKey.split(" ").slice(0, 2).join(" ")}\n`)
      const open = (layer: Layer.Layer<Cluster.Cluster, unknown>) =>
        Effect.flip(Layer.build(layer).pipe(Effect.scoped)).pipe(Effect.map((e) => (e as { message: string }).message))
      const json = (knownHosts: string, nodePort = port) =>
        tempFile("cluster.json", JSON.stringify({
          nodes: ["a", "b", "c"].map((host) => ({ ssh_config: { host, hostname: "127.0.0.1", port: nodePort, user, identityfile: key } })),
          known_hosts: knownHosts
        }))

      // Three nodes on one sshd whose key is not on file: one line, "add its key", the cluster.json key to turn it off.
      const unknown = yield* open(Cluster.fromFile(yield* json(empty)))
      expect(unknown).toContain(`3 node(s) cannot be reached:\n  a, b, c: 127.0.0.1:${port} (unknown-host: [127.0.0.1]:${port} is not in ${empty}`)
      expect(unknown).toContain(`add its key: ssh-keyscan -p ${port} 127.0.0.1 >> ${empty}`)
      expect(unknown).toContain(`set "stricthostkeychecking": "no" in the node's ssh_config`)
      expect(unknown).not.toContain("differs")
      expect(unknown).not.toContain("strictHostKeyChecking")

      // A key that changed is another matter, with another fix.
      const changed = yield* open(Cluster.fromFile(yield* json(impostor)))
      expect(changed).toContain("(host-key: the host key of")
      expect(changed).toContain(`ssh-keygen -R '[127.0.0.1]:${port}' -f ${impostor}`)

      // The same cause in an ssh_config gets the ssh_config spelling.
      const sshConfig = yield* tempFile("ssh_config", `Host a b\n  HostName 127.0.0.1\n  Port ${port}\n  User ${user}\n` +
        `  IdentityFile ${key}\n  UserKnownHostsFile ${empty}\n`)
      const viaSsh = yield* open(Cluster.fromSshConfig(sshConfig))
      expect(viaSsh).toContain("  a, b: 127.0.0.1:")
      expect(viaSsh).toContain("set StrictHostKeyChecking no in its Host block")

      // Nothing listening: "port" as cluster.json spells it.
      const closedPort = yield* Effect.promise(() => freePort())
      const refused = yield* open(Cluster.fromFile(yield* json(empty, closedPort)))
      expect(refused).toContain(`a, b, c: 127.0.0.1:${closedPort} (refused:`)
      expect(refused).toContain(`check "hostname" and "port" in the node's ssh_config`)
    }), { timeout: 60_000 })

  it.scopedLive("ProxyJump: a node that only its jump host can reach is reached through it; the jump host is no node", () =>
    Effect.gen(function*() {
      // The jump host is a lab node; the hidden node is an sshd on 127.0.0.1 *inside* that node's namespace.
      const { lab, root } = yield* scopedLab("pj", 1)
      const n1 = lab.nodes[0]!
      const publicKey = NodeFs.readFileSync(`${lab.identityFile}.pub`, "utf8").trim()
      const hidden = yield* Sshd.start({
        address: "127.0.0.1",
        netns: n1.netns,
        dir: NodePath.join(root, "hidden"),
        authorizedKeys: [publicKey],
        dieWithParent: true
      })
      const knownHosts = NodePath.join(root, "known_hosts")
      NodeFs.writeFileSync(knownHosts, NodeFs.readFileSync(lab.knownHostsFile, "utf8") + hidden.knownHostsLine + "\n")
      const common = `  User root\n  IdentityFile ${lab.identityFile}\n  UserKnownHostsFile ${knownHosts}\n`
      const config = NodePath.join(root, "ssh_config")
      NodeFs.writeFileSync(config, `Host jump\n  HostName ${n1.address}\n  Port ${n1.sshPort}\n${common}` +
        `Host hidden\n  HostName 127.0.0.1\n  Port ${hidden.port}\n  ProxyJump jump\n${common}`)

      const context = yield* Layer.build(Cluster.fromSshConfig(config))
      const cluster = Context.get(context, Cluster.Cluster)
      expect(cluster.all.map((n) => n.name)).toEqual(["hidden"]) // the jump host is not a node
      const node = cluster.all[0]!
      // The command ran in the lab node's namespace: its address is there.
      expect(yield* node.account.sshOutput("ip -o -4 addr show")).toContain(n1.address)
      // From here, nothing answers on that port (the tunnel is what reached it).
      const direct = yield* Effect.flip(Effect.scoped(SshAccount.make({
        hostname: "hidden", sshHostname: "127.0.0.1", port: hidden.port, user: "root",
        identityFile: lab.identityFile, knownHosts
      })))
      expect(direct.reason).toBe("refused")

      // A jump host that cannot reach the target says so, naming the jump host.
      const closed = yield* Effect.promise(() => freePort())
      NodeFs.writeFileSync(config, `Host jump\n  HostName ${n1.address}\n  Port ${n1.sshPort}\n${common}` +
        `Host gone\n  HostName 127.0.0.1\n  Port ${closed}\n  ProxyJump jump\n${common}`)
      const gone = yield* Effect.flip(Layer.build(Cluster.fromSshConfig(config, { healthCheck: false })).pipe(Effect.scoped))
      expect(gone.message).toContain(`through jump host root@${n1.address}:${n1.sshPort}: it cannot reach 127.0.0.1:${closed}`)
    }), { timeout: 120_000 })

  it.effect("an unreadable or missing file is a ClusterConfigError naming it", () =>
    Effect.gen(function*() {
      const missing = NodePath.join(NodeOs.tmpdir(), "no-such-cluster.json")
      const error = yield* Effect.flip(Layer.build(Cluster.fromFile(missing)).pipe(Effect.scoped))
      expect(error.message).toBe(`${missing}: the file does not exist\n  fix: check the path (it is relative to the current directory)`)
    }))
})

describe("scheduling helpers", () => {
  const cases = (n: number) =>
    Test.expand(Test.make({ matrix: { i: Array.from({ length: n }, (_, k) => k) } }, () => Effect.void), { module: "m", file: "/f", suite: "S", name: "t" }, {})

  it("offers larger specs first and retries ahead of their peers", () => {
    const queue = new PendingQueue<{ id: string; spec: number }>((j) => j.spec)
    for (const j of [{ id: "a", spec: 1 }, { id: "b", spec: 3 }, { id: "c", spec: 1 }, { id: "d", spec: 3 }]) queue.push(j)
    queue.unshift({ id: "retry", spec: 1 })
    const order: Array<string> = []
    for (;;) {
      const next = queue.takeFirst(() => true)
      if (next === undefined) break
      order.push(next.job.id)
    }
    expect(order).toEqual(["b", "d", "retry", "a", "c"])
    const small = new PendingQueue<{ id: string; spec: number }>((j) => j.spec)
    small.push({ id: "big", spec: 5 })
    small.push({ id: "small", spec: 1 })
    const taken = small.takeFirst((spec) => (Cluster.specSize(spec) <= 2 ? `${Cluster.specSize(spec)} node(s)` : undefined))
    expect(taken).toEqual({ job: { id: "small", spec: 1 }, taken: "1 node(s)" })
    expect(small.size).toBe(1)
  })

  it("shards evenly, or by historical durations longest-first into the least-loaded shard", () => {
    const all = cases(10)
    const shards = [0, 1, 2].map((i) => selection.shard(all, 3, i, new Map()))
    expect(shards.map((s) => s.length)).toEqual([4, 3, 3])
    expect(new Set(shards.flat().map((c) => c.id)).size).toBe(10)
    const durations = new Map(all.map((c, k) => [c.id, k === 0 ? 100 : 10]))
    const heavy = selection.shard(all, 2, 0, durations)
    const light = selection.shard(all, 2, 1, durations)
    expect(heavy.map((c) => c.id)).toEqual([all[0]!.id])
    expect(light).toHaveLength(9)
    // Durations of 0 s (a report of instant tests) still spread the tests over every shard.
    const instant = new Map(all.map((c) => [c.id, 0]))
    expect([0, 1, 2].map((i) => selection.shard(all, 3, i, instant).length)).toEqual([4, 3, 3])
    expect(selection.sample(all, 3)).toHaveLength(3)
    expect(selection.sample(all, 30)).toHaveLength(10)
  })
})
