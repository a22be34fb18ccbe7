// The lab (src/Lab.ts): bring-up: network, keys, one sshd per node in its namespaces, then known_hosts and cluster.json.
import * as NodePath from "node:path"
import type { Context } from "effect"
import { Effect, Layer, Option, Scope } from "effect"
import type * as L from "../../../Lab.js"
import * as Shell from "../../../Shell.js"
import type { SshdError } from "../../../Sshd.js"
import * as Sshd from "../../../Sshd.js"
import * as Release from "../../shared/release.js"
import { LabError } from "./errors.js"
import { checkName, invalid, layout } from "./layout.js"
import { defaultName, defaultWorkdir, maxNodes } from "./names.js"
import { buildNetwork, chooseSubnet } from "./network.js"
import { readState, stateFile } from "./state.js"
import { anythingPresent, down, teardown } from "./teardown.js"
import type { Tools } from "./tools.js"
import { defaultDownTimeout, mkdirs, preflight, writeFile } from "./tools.js"

export const hostsText = (lab: L.Lab) =>
  [
    "127.0.0.1 localhost",
    "::1 localhost ip6-localhost ip6-loopback",
    ...lab.nodes.map((n) => `${n.address} ${n.name}`),
    ""
  ].join("\n")

export const clusterJson = (lab: L.Lab) =>
  JSON.stringify(
    {
      nodes: lab.nodes.map((n) => ({
        ssh_config: {
          host: n.name,
          hostname: n.address,
          user: "root",
          port: n.sshPort,
          identityfile: lab.identityFile
        },
        externally_routable_ip: n.address,
        workdir: n.workdir,
        netns: n.netns
      })),
      known_hosts: lab.knownHostsFile,
      lab: { name: lab.name, subnet: lab.subnet, bridge: lab.bridge, dir: lab.dir }
    },
    null,
    2
  ) + "\n"

export const sshdError = (lab: L.Lab, node: L.LabNode) => (e: SshdError) =>
  new LabError({ lab: lab.name, reason: "sshd-failed", detail: `the sshd of ${node.name} (${node.address}): ${e.message}` })

/**
 * Starts a node's sshd inside its namespace, under a wrapper that gives it its own hostname, working directory
 * and /etc/hosts. The server outlives this process: `down` ends it by namespace, so `sshds` is never closed
 * on success.
 */
export const startSshd = (
  tools: Tools,
  lab: L.Lab,
  node: L.LabNode,
  authorizedKeys: ReadonlyArray<string>,
  extra: ReadonlyArray<string>,
  sshds: Scope.Scope
) => {
  const q = Shell.quote
  const script = [
    `printf %s ${q(node.name)} > /proc/sys/kernel/hostname`,
    `mkdir -p ${q(node.workdir)}`,
    `mount --bind ${q(node.hostWorkdir)} ${q(node.workdir)}`,
    `mount --bind ${q(NodePath.join(lab.dir, "hosts"))} /etc/hosts`,
    // exec keeps the pid: sshd's pid file names the process that holds these namespaces.
    `exec "$@"`
  ].join(" && ")
  return Sshd.start({
    address: node.address,
    port: node.sshPort,
    dir: NodePath.dirname(node.sshdConfig),
    authorizedKeys,
    home: node.home,
    netns: node.netns,
    wrap: [tools.unshare, "--mount", "--propagation", "slave", "--uts", "/bin/sh", "-c", script, `lab-${node.name}`],
    ...(extra.length === 0 ? {} : { extraConfig: extra.join("\n") })
  }).pipe(Scope.extend(sshds), Effect.mapError(sshdError(lab, node)))
}

export const build = (tools: Tools, lab: L.Lab, options: L.LabOptions, sshds: Scope.Scope) =>
  Effect.gen(function*() {
    yield* mkdirs(lab.name, [lab.dir, ...lab.nodes.flatMap((n) => [n.hostWorkdir, n.home])])
    // Recorded before anything is made, so `down({ dir })` finds a lab whose `up` crashed half way.
    yield* writeFile(
      lab.name,
      stateFile(lab.dir),
      JSON.stringify({ version: 1, createdBy: process.pid, createdAt: new Date().toISOString(), lab }, null, 2) + "\n"
    )
    const [clientKey] = yield* Effect.all([
      Sshd.generateKeyPair(lab.identityFile).pipe(
        Effect.mapError((e) => new LabError({ lab: lab.name, reason: "command-failed", detail: e.message, cause: e }))
      ),
      buildNetwork(tools, lab),
      writeFile(lab.name, NodePath.join(lab.dir, "hosts"), hostsText(lab))
    ], { concurrency: "unbounded" })

    const authorizedKeys = [clientKey.publicKey, ...(options.authorizedKeys ?? [])]
    const handles = yield* Effect.forEach(
      lab.nodes,
      (n) => startSshd(tools, lab, n, authorizedKeys, options.sshdConfig ?? [], sshds),
      { concurrency: "unbounded" }
    )
    const knownHosts = lab.nodes.map((n, i) => {
      const key = (handles[i]?.hostPublicKey ?? "").split(/\s+/).slice(0, 2).join(" ")
      return `${n.name},${n.address} ${key}`
    })
    yield* writeFile(lab.name, lab.knownHostsFile, knownHosts.join("\n") + "\n")
    // Last: a cluster file exists only for a lab that is fully up.
    yield* writeFile(lab.name, lab.clusterFile, clusterJson(lab))
  })

/** @internal */
export const up = (options: L.LabOptions): Effect.Effect<L.Lab, LabError> =>
  Effect.gen(function*() {
    const name = options.name ?? defaultName
    yield* checkName(name)
    if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > maxNodes) {
      return yield* Effect.fail(invalid(name, `nodes must be an integer from 1 to ${maxNodes}, got ${options.nodes}`))
    }
    const workdir = options.workdir ?? defaultWorkdir
    if (!NodePath.isAbsolute(workdir) || NodePath.resolve(workdir) === "/") {
      return yield* Effect.fail(invalid(name, `workdir must be an absolute path other than /, got ${JSON.stringify(workdir)}`))
    }
    const dir = NodePath.resolve(options.dir)
    const tools = yield* preflight(name)

    const prior = yield* readState(dir)
    if (Option.isSome(prior) && prior.value.name !== name && (yield* anythingPresent(prior.value.name))) {
      return yield* Effect.fail(
        new LabError({
          lab: name,
          reason: "dir-in-use",
          detail: `${dir} belongs to lab ${JSON.stringify(prior.value.name)}, which is up`
        })
      )
    }
    // A lab of this name left from before (a crash, a forgotten down) goes first.
    const stale = yield* teardown(
      tools,
      name,
      Option.filter(prior, (p) => p.name === name),
      Option.some(dir)
    )
    if (stale.namespaces.length + stale.links.length + stale.processes > 0) {
      yield* Effect.logInfo(`took down a stale lab ${name} first`)
    }

    const prefix = yield* chooseSubnet(name, options.subnet)
    const lab = layout(name, dir, prefix, options.nodes, NodePath.resolve(workdir))
    // Never closed: the sshds must outlive this call (and this process); `down` ends them by namespace.
    const sshds = yield* Scope.make()
    yield* build(tools, lab, options, sshds).pipe(
      // Also on interruption; the teardown is bounded on its own, as it runs where nothing can interrupt it.
      Effect.onError(() =>
        teardown(tools, name, Option.some(lab), Option.some(dir)).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("could not remove a partly built lab", cause))
        )
      )
    )
    return lab
  }).pipe(
    // `up` cleans up after itself when interrupted, so it may be; and waits with timeouts and races (Sshd.start)
    // hang when run uninterruptibly, as in the acquire step of `scoped`.
    Effect.interruptible,
    Effect.withSpan("Lab.up"),
    Effect.annotateLogs({ lab: options.name ?? defaultName })
  )

/** @internal */
export const scoped = (options: L.LabOptions): Effect.Effect<L.Lab, LabError, Scope.Scope> =>
  Effect.acquireRelease(up(options), (lab) =>
    Release.bounded(down({ name: lab.name, dir: lab.dir }), defaultDownTimeout, () => "timed out").pipe(
      Effect.catchAllCause((cause) => Effect.logWarning(`could not take lab ${lab.name} down`, cause)),
      Effect.asVoid
    ))

/** @internal */
export const layer = (tag: Context.Tag<L.Lab, L.Lab>, options: L.LabOptions): Layer.Layer<L.Lab, LabError> =>
  Layer.scoped(tag, scoped(options))
