/**
 * Containers as nodes: one network per engine and run, one container per node, each labelled with the run and the
 * driver's session so that what a killed driver left is found and removed (the role testcontainers' Ryuk plays).
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Data, Duration, Effect, Schedule } from "effect"
import type * as D from "../../../Docker.js"
import * as Engine from "./engine.js"
import { DockerError } from "./errors.js"
import * as Image from "./image.js"

/** Labels every container, network (and volume) carries. */
export const labels = {
  /** The driver session's label (`<session>/<driver host>/<driver pid>`), read for liveness. */
  session: "ducktape.session",
  /** The run's (cluster's) name. */
  run: "ducktape.run",
  /** Present (`1`) on clusters made by `ducktape docker up`: they outlive the process that made them on purpose. */
  keep: "ducktape.keep",
  node: "ducktape.node"
} as const

/** Run names: they name networks, bridges (`dt<k>-<name>`, at most 15 characters) and containers. */
export const namePattern = /^[a-z][a-z0-9]{0,9}$/

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The node's start command, run by /bin/sh in any image: the run's key authorized for root, a host key of the node's
 * own, the workdir, then sshd in the foreground (its `Server listening` line says it is ready). Exit 97 says the
 * image has no sshd.
 */
const startScript = (workdir: string) =>
  [
    "umask 077",
    "mkdir -p /root/.ssh /run/sshd",
    `printf '%s\\n' "$DUCKTAPE_AUTHORIZED_KEY" > /root/.ssh/authorized_keys`,
    "umask 022",
    `mkdir -p ${quote(workdir)}`,
    "SSHD=$(command -v sshd || echo /usr/sbin/sshd)",
    `[ -x "$SSHD" ] || { echo "ducktape: no sshd in this image" >&2; exit 97; }`,
    "[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key || exit 97",
    `echo "ducktape-host-key $(cat /etc/ssh/ssh_host_ed25519_key.pub)"`,
    `exec "$SSHD" -D -e -o HostKey=/etc/ssh/ssh_host_ed25519_key -o PermitRootLogin=prohibit-password -o MaxSessions=64 -o MaxStartups=200:30:400 -o UseDNS=no`
  ].join("\n")

/** What `start` needs beyond the user's options. */
export interface StartPlan {
  readonly name: string
  readonly sessionLabel: string
  readonly keep: boolean
  readonly authorizedKey: string
  readonly workdir: string
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly nodeType: string | undefined; readonly size: D.NodeSize | undefined }>
  readonly endpoints: ReadonlyArray<Engine.Endpoint>
  readonly image: string | undefined
  readonly baseImage: string | undefined
  readonly packages: ReadonlyArray<string>
  readonly startTimeout: Duration.Duration
}

const containerName = (run: string, node: string) => `dt-${run}-${node}`
const networkName = (run: string) => `dt-${run}`
/** `dt<endpoint index>-<run>`: at most 15 characters, an interface name's limit. */
export const bridgeName = (run: string, endpointIndex: number) => `dt${endpointIndex % 10}-${run}`

/** How often a starting node's log is read for sshd's `Server listening` line. */
const readyPoll = Schedule.spaced("150 millis")

class NotYet extends Data.TaggedError("NotYet")<{ readonly nodes: ReadonlyArray<string> }> {}

interface Inspected {
  readonly Id: string
  readonly Name: string
  readonly State: { readonly Running: boolean; readonly Status: string; readonly ExitCode: number }
  readonly NetworkSettings: {
    readonly Networks: Record<string, { readonly IPAddress: string }>
    readonly Ports: Record<string, ReadonlyArray<{ readonly HostIp: string; readonly HostPort: string }> | null> | null
  }
}

const inspect = (endpoint: Engine.Endpoint, ids: ReadonlyArray<string>) =>
  Effect.flatMap(Engine.runOk(endpoint, ["container", "inspect", ...ids]), (out) =>
    Effect.try({
      try: () => JSON.parse(out) as ReadonlyArray<Inspected>,
      catch: () => new DockerError({ endpoint: endpoint.id, reason: "command-failed", detail: "docker inspect printed something that is not JSON" })
    }))

const logsOf = (endpoint: Engine.Endpoint, id: string) =>
  Effect.map(Engine.run(endpoint, ["logs", "--tail", "200", id], { timeoutMs: 30_000 }), (r) => r.stdout + r.stderr)

/** Removes everything of one run on one engine (containers with their anonymous volumes, then the network). */
export const removeRun = (endpoint: Engine.Endpoint, run: string): Effect.Effect<{ containers: number; networks: number }, DockerError> =>
  Effect.gen(function*() {
    const filter = ["--filter", `label=${labels.run}=${run}`]
    const containers = (yield* Engine.runOk(endpoint, ["ps", "-aq", ...filter])).split("\n").filter((l) => l !== "")
    if (containers.length > 0) yield* Engine.run(endpoint, ["rm", "-f", "-v", ...containers])
    const networks = (yield* Engine.runOk(endpoint, ["network", "ls", "-q", ...filter])).split("\n").filter((l) => l !== "")
    if (networks.length > 0) yield* Engine.run(endpoint, ["network", "rm", ...networks])
    return { containers: containers.length, networks: networks.length }
  })

/** Removes a run from every engine; never fails (for releases): what could not be removed is logged. */
export const removeEverywhere = (endpoints: ReadonlyArray<Engine.Endpoint>, run: string) =>
  Effect.forEach(endpoints, (e) =>
    removeRun(e, run).pipe(
      Effect.catchAll((err) => Effect.as(Effect.logWarning(`could not remove docker cluster ${run} from ${e.id}; \`ducktape clean\` will`, err.message), { containers: 0, networks: 0 }))
    ), { concurrency: "unbounded" })

/** One leftover of a dead session on an engine. */
export interface DockerLeftover {
  readonly endpoint: string
  readonly kind: "container" | "network" | "volume"
  readonly what: string
  readonly label: string
}

/** Finds (and unless `dryRun` removes) containers, networks and volumes of dead sessions on an engine. */
export const cleanDead = (
  endpoint: Engine.Endpoint,
  isLive: (label: string) => boolean,
  dryRun: boolean
): Effect.Effect<ReadonlyArray<DockerLeftover>, DockerError> =>
  Effect.gen(function*() {
    const lines = (args: ReadonlyArray<string>) =>
      Effect.map(Engine.runOk(endpoint, args), (out) => out.split("\n").filter((l) => l.trim() !== "").map((l) => l.split("\t")))
    const dead = (label: string | undefined, keep: string | undefined) => label !== undefined && label !== "" && keep !== "1" && !isLive(label)
    const filter = ["--filter", `label=${labels.session}`]
    const fmt = `{{.ID}}\t{{.Names}}\t{{.Label "${labels.session}"}}\t{{.Label "${labels.keep}"}}`
    const containers = (yield* lines(["ps", "-a", ...filter, "--format", fmt])).filter(([, , l, k]) => dead(l, k))
    const networks = (yield* lines(["network", "ls", ...filter, "--format", fmt.replace("{{.Names}}", "{{.Name}}")]))
      .filter(([, , l, k]) => dead(l, k))
    const volumes = (yield* lines(["volume", "ls", ...filter, "--format", `{{.Name}}\t{{.Name}}\t{{.Label "${labels.session}"}}\t{{.Label "${labels.keep}"}}`]))
      .filter(([, , l, k]) => dead(l, k))
    if (!dryRun) {
      if (containers.length > 0) yield* Engine.runOk(endpoint, ["rm", "-f", "-v", ...containers.map(([id]) => id!)])
      if (networks.length > 0) yield* Engine.runOk(endpoint, ["network", "rm", ...networks.map(([id]) => id!)])
      if (volumes.length > 0) yield* Engine.run(endpoint, ["volume", "rm", "-f", ...volumes.map(([id]) => id!)])
    }
    const found = (kind: DockerLeftover["kind"]) => (row: ReadonlyArray<string>): DockerLeftover => ({ endpoint: endpoint.id, kind, what: row[1] ?? "", label: row[2] ?? "" })
    return [...containers.map(found("container")), ...networks.map(found("network")), ...volumes.map(found("volume"))]
  })

/** The image every node of an endpoint runs: the user's (checked), or the default one (built if missing). */
const imageFor = (endpoint: Engine.Endpoint, plan: StartPlan) =>
  Effect.gen(function*() {
    let image: string
    if (plan.image !== undefined) {
      if (!(yield* Image.exists(endpoint, plan.image))) {
        return yield* Effect.fail(new DockerError({ endpoint: endpoint.id, reason: "image-not-found", detail: `image ${JSON.stringify(plan.image)} is not on this engine` }))
      }
      image = plan.image
    } else image = yield* Image.ensureBase(endpoint, plan.baseImage)
    return plan.packages.length === 0 ? image : yield* Image.ensureDerived(endpoint, image, plan.packages)
  })

/** Fails with name-conflict when a live cluster already uses the name on an engine. */
const checkFree = (endpoint: Engine.Endpoint, run: string) =>
  Effect.gen(function*() {
    const ids = (yield* Engine.runOk(endpoint, ["ps", "-aq", "--filter", `label=${labels.run}=${run}`])).trim()
    const nets = (yield* Engine.runOk(endpoint, ["network", "ls", "-q", "--filter", `name=^${networkName(run)}$`])).trim()
    if (ids !== "" || nets !== "") {
      return yield* Effect.fail(new DockerError({
        endpoint: endpoint.id,
        reason: "name-conflict",
        detail: `a docker cluster named ${JSON.stringify(run)} is already up there (${ids === "" ? "its network" : "containers"} ${networkName(run)}…)`
      }))
    }
  })

/** A node of the plan with the engine it goes to and the image it runs there. */
interface Placed {
  readonly name: string
  readonly nodeType: string | undefined
  readonly size: D.NodeSize | undefined
  readonly endpoint: Engine.Endpoint
  readonly image: string
}

/** The labels every container and network of a plan carries. */
const labelArgs = (plan: StartPlan) => [
  "--label", `${labels.session}=${plan.sessionLabel}`,
  "--label", `${labels.run}=${plan.name}`,
  ...(plan.keep ? ["--label", `${labels.keep}=1`] : [])
]

/** The run's network on each engine; bridges are named per endpoint: two engines on one machine must not share one. */
const createNetworks = (plan: StartPlan) =>
  Effect.forEach(plan.endpoints, (e, i) =>
    Engine.runOk(e, [
      "network", "create", "--driver", "bridge", ...labelArgs(plan),
      "--opt", `com.docker.network.bridge.name=${bridgeName(plan.name, i)}`, networkName(plan.name)
    ]), {
    // One after the other: an engine picks a subnet no route on its host uses yet, so engines sharing a host must see
    // each other's bridges.
    discard: true
  })

/** Starts one node's container (sshd in the foreground, see startScript); succeeds with its id. */
const runContainer = (plan: StartPlan, n: Placed) => {
  const args = [
    "run", "-d",
    "--name", containerName(plan.name, n.name),
    "--hostname", n.name,
    "--network", networkName(plan.name),
    "--network-alias", n.name,
    ...labelArgs(plan),
    "--label", `${labels.node}=${n.name}`,
    "--cap-add", "NET_ADMIN",
    ...(n.size?.cpus === undefined ? [] : ["--cpus", String(n.size.cpus)]),
    ...(n.size?.memory === undefined ? [] : ["--memory", n.size.memory, "--memory-swap", n.size.memory]),
    ...(n.endpoint.local ? [] : ["--publish", "22"]),
    "--env", "DUCKTAPE_AUTHORIZED_KEY",
    "--entrypoint", "/bin/sh",
    n.image,
    "-c", startScript(plan.workdir)
  ]
  return Effect.flatMap(Engine.run(n.endpoint, args, { env: { DUCKTAPE_AUTHORIZED_KEY: plan.authorizedKey } }), (ran) =>
    ran.code === 0
      ? Effect.succeed(ran.stdout.trim())
      : Effect.fail(
        /exec: "\/bin\/sh"|\/bin\/sh: no such file|executable file not found/.test(ran.stderr)
          ? new DockerError({ endpoint: n.endpoint.id, reason: "no-sshd", detail: `image ${n.image} has no /bin/sh to start sshd with` })
          : Engine.failure(n.endpoint, args, ran)
      ))
}

/**
 * Waits until each node's sshd says it listens and returns their host keys by node name; a container that exits
 * instead fails with what its log says.
 */
const awaitSshd = (plan: StartPlan, placed: ReadonlyArray<Placed>, ids: ReadonlyArray<string>) => {
  const hostKeys = new Map<string, string>()
  const waitingNames = () => placed.filter((n) => !hostKeys.has(n.name)).map((n) => n.name)
  const check = (n: Placed, id: string) =>
    Effect.gen(function*() {
      const log = yield* logsOf(n.endpoint, id)
      const key = /ducktape-host-key (ssh-ed25519 \S+)/.exec(log)?.[1]
      if (key !== undefined && /Server listening on/.test(log)) {
        hostKeys.set(n.name, key)
        return
      }
      const [state] = yield* inspect(n.endpoint, [id])
      if (state !== undefined && !state.State.Running) {
        const tail = log.trim().split("\n").slice(-6).join("\n")
        return yield* Effect.fail(new DockerError({
          endpoint: n.endpoint.id,
          reason: state.State.ExitCode === 97 || /sshd: not found|no sshd|ssh-keygen: not found/.test(log) ? "no-sshd" : classify(log),
          detail: `node ${n.name} (image ${n.image}) exited with code ${state.State.ExitCode} instead of starting sshd:\n${tail}`
        }))
      }
    })
  const round = Effect.gen(function*() {
    const waiting = placed.flatMap((n, i) => (hostKeys.has(n.name) ? [] : [{ n, id: ids[i]! }]))
    yield* Effect.forEach(waiting, ({ id, n }) => check(n, id), { concurrency: 8, discard: true })
    const left = waitingNames()
    if (left.length > 0) return yield* Effect.fail(new NotYet({ nodes: left }))
  })
  return round.pipe(
    Effect.retry({ schedule: readyPoll, while: (e) => e._tag === "NotYet" }),
    Effect.timeoutFail({ duration: plan.startTimeout, onTimeout: () => new NotYet({ nodes: waitingNames() }) }),
    Effect.catchTag("NotYet", (e) =>
      Effect.fail(new DockerError({
        endpoint: plan.endpoints[0]!.id,
        reason: "timeout",
        detail: `sshd did not start within ${Duration.format(plan.startTimeout)} on ${e.nodes.join(", ")}`
      }))),
    Effect.as(hostKeys as ReadonlyMap<string, string>)
  )
}

/** A started node as the cluster sees it: its address on the run's network, and how ssh reaches it. */
const describeNode = (plan: StartPlan, n: Placed, id: string, hostKey: string) =>
  Effect.map(inspect(n.endpoint, [id]), ([state]): D.DockerNode => {
    const address = Object.values(state?.NetworkSettings.Networks ?? {})[0]?.IPAddress ?? ""
    const port = state?.NetworkSettings.Ports?.["22/tcp"]?.[0]?.HostPort
    return {
      name: n.name,
      nodeType: n.nodeType,
      container: containerName(plan.name, n.name),
      containerId: id,
      endpoint: n.endpoint.id,
      address,
      sshHost: n.endpoint.local ? address : n.endpoint.host ?? address,
      sshPort: n.endpoint.local || port === undefined ? 22 : Number(port),
      hostKey,
      size: n.size
    }
  })

/** Nodes on other engines are not on an engine's network: names them in every node's /etc/hosts. */
const shareHosts = (placed: ReadonlyArray<Placed>, ids: ReadonlyArray<string>, nodes: ReadonlyArray<D.DockerNode>) =>
  Effect.forEach(placed, (n, i) => {
    const others = nodes.filter((_, j) => placed[j]!.endpoint !== n.endpoint).map((o) => `${o.address} ${o.name}`).join("\n") + "\n"
    return Engine.runOk(n.endpoint, ["exec", "-i", ids[i]!, "sh", "-c", "cat >> /etc/hosts"], { stdin: others })
  }, { concurrency: 8, discard: true })

/** Brings the containers up; on any failure or interruption, removes what it made. */
export const start = (plan: StartPlan): Effect.Effect<ReadonlyArray<D.DockerNode>, DockerError> =>
  Effect.gen(function*() {
    yield* Effect.forEach(plan.endpoints, (e) => checkFree(e, plan.name), { concurrency: "unbounded", discard: true })
    const images = yield* Effect.forEach(plan.endpoints, (e) => imageFor(e, plan), { concurrency: "unbounded" })
    // Nodes go round-robin over the endpoints.
    const placed: ReadonlyArray<Placed> = plan.nodes.map((n, i) => ({
      ...n,
      endpoint: plan.endpoints[i % plan.endpoints.length]!,
      image: images[i % plan.endpoints.length]!
    }))
    return yield* Effect.gen(function*() {
      yield* createNetworks(plan)
      const ids = yield* Effect.forEach(placed, (n) => runContainer(plan, n), { concurrency: 8 })
      const hostKeys = yield* awaitSshd(plan, placed, ids)
      const nodes = yield* Effect.forEach(placed, (n, i) => describeNode(plan, n, ids[i]!, hostKeys.get(n.name)!), { concurrency: 8 })
      if (plan.endpoints.length > 1) yield* shareHosts(placed, ids, nodes)
      return nodes
    }).pipe(
      // Also on interruption: the removal is bounded by each call's own timer.
      Effect.onError(() => removeEverywhere(plan.endpoints, plan.name))
    )
  }).pipe(
    // It cleans up after itself when interrupted, so it may be; timeouts hang where nothing can be interrupted (an
    // acquire step).
    Effect.interruptible,
    Effect.withSpan("Docker.start"),
    Effect.annotateLogs({ dockerCluster: plan.name })
  )

const classify = (log: string) => Engine.classify(log) ?? "command-failed"

/** The state `up` writes next to its cluster file, read back by `down`. */
export interface UpState {
  readonly version: 1
  readonly name: string
  readonly endpoints: ReadonlyArray<string>
  readonly nodes: ReadonlyArray<D.DockerNode>
}

export const stateFile = (dir: string) => NodePath.join(dir, "docker.json")

export const readState = (dir: string): UpState | undefined => {
  try {
    return JSON.parse(NodeFs.readFileSync(stateFile(dir), "utf8")) as UpState
  } catch {
    return undefined
  }
}
