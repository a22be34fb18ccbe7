/**
 * Docker containers as cluster nodes: N containers made for a run and removed at its end, each with its own
 * hostname and address on a Docker network of the run's own, and an sshd the ssh2 backend (SshAccount) logs in to,
 * so every RemoteAccount feature works on them. Containers get `NET_ADMIN`, so network faults (iptables, tc) apply
 * inside them as on the lab.
 *
 * - Node types: a typed spec (`[{ numNodes: 2, nodeType: "large" }, { numNodes: 1 }]`) gives each typed node the
 *   CPU and memory limits of its type (`nodeTypes`, default `defaultNodeTypes`); untyped nodes have no limits.
 * - Image: `image` (any image with /bin/sh and OpenSSH's sshd), or the default one, built here from Debian's
 *   packages with mmdebstrap when missing and tagged by its recipe's hash so later runs start in seconds.
 *   `packages` are baked into a derived image (tagged by the package list).
 * - Endpoints: nodes are spread over a list of engines (`default` = DOCKER_HOST or the CLI's context,
 *   `unix:///…`, `tcp://…`, `ssh://…`, `context:NAME`). Containers of a local engine are reached at their address;
 *   those of a remote engine through sshd's port published on the engine's host.
 * - Cleanup: every container and network carries the labels `ducktape.session` (the driver's session label, as
 *   `Clean` reads it) and `ducktape.run`. Those of dead sessions are removed by `clean` — which `ducktape clean`
 *   and the start of every docker cluster run — so a SIGKILLed driver leaves nothing behind. Clusters made by
 *   `up` carry `ducktape.keep=1` and stay until `down`.
 *
 * @since 0.1.0
 */
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { Scope } from "effect"
import { Duration, Effect, Layer, Option } from "effect"
import type { ClusterSpec } from "./Cluster.js"
import * as Cluster from "./Cluster.js"
import * as Engine from "./internal/cluster/docker/engine.js"
import { DockerError } from "./internal/cluster/docker/errors.js"
import * as Image from "./internal/cluster/docker/image.js"
import * as Nodes from "./internal/cluster/docker/nodes.js"
import * as Release from "./internal/shared/release.js"
import type { RemoteConnectionError } from "./RemoteAccount.js"
import * as SshAccount from "./SshAccount.js"
import * as Sshd from "./Sshd.js"
import { isLive, labelFor } from "./internal/shared/sessionLabels.js"

/** Why Docker nodes could not be made, found or removed (`DockerError`, with its `reason`). */
export { DockerError, DockerFailure } from "./internal/cluster/docker/errors.js"
/** A container, network or volume a dead session left on an engine. */
export type { DockerLeftover } from "./internal/cluster/docker/nodes.js"

/**
 * The CPU and memory limits of a node type.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeSize {
  /** CPUs (`docker run --cpus`), e.g. 0.5 or 2. */
  readonly cpus?: number
  /** Memory (`docker run --memory`, swap included), e.g. `"512m"`, `"2g"`. */
  readonly memory?: string
}

/**
 * The node types known when the options name none: small, medium and large.
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultNodeTypes: Readonly<Record<string, NodeSize>> = {
  small: { cpus: 0.5, memory: "512m" },
  medium: { cpus: 1, memory: "1g" },
  large: { cpus: 2, memory: "2g" }
}

/**
 * How to make a cluster of containers.
 *
 * @since 0.1.0
 * @category models
 */
export interface DockerOptions {
  /** The nodes: a count, or groups by node type (a type must be in `nodeTypes`). */
  readonly nodes: ClusterSpec
  /** Node types and their limits. Default `defaultNodeTypes`. */
  readonly nodeTypes?: Readonly<Record<string, NodeSize>>
  /** An image with /bin/sh and sshd, present on every endpoint. Default: the built-in Debian image (built if missing). */
  readonly image?: string
  /**
   * A Debian bookworm image the default node image is built from (`docker build`: the node packages by apt, then
   * sshd), e.g. your registry's `debian:bookworm-slim`. Default: a root filesystem made on this machine with
   * mmdebstrap from its Debian mirror, or where mmdebstrap is not installed (macOS with Docker Desktop, say)
   * `debian:bookworm-slim` pulled by the engine. Not used when `image` is given.
   */
  readonly baseImage?: string
  /** Debian packages baked into a derived image (built once per package list and base image). */
  readonly packages?: ReadonlyArray<string>
  /** The engines to spread nodes over. Default `["default"]` (DOCKER_HOST, or the Docker CLI's current context). */
  readonly endpoints?: ReadonlyArray<string>
  /** The cluster's name (1-10 lowercase letters/digits, starting with a letter): its network is `dt-<name>`. Default: random. */
  readonly name?: string
  /** Each node's scratch directory. Default `/var/lib/ducktape/work`. */
  readonly workdir?: string
  /** How long the containers' sshds may take to start. Default 60 seconds. */
  readonly startTimeout?: Duration.DurationInput
}

/**
 * One container of a docker cluster.
 *
 * @since 0.1.0
 * @category models
 */
export interface DockerNode {
  /** Node name and hostname: `n1`, `n2`, … (resolvable by every node of the cluster). */
  readonly name: string
  readonly nodeType: string | undefined
  /** The container's name (`dt-<cluster>-<node>`) and id. */
  readonly container: string
  readonly containerId: string
  /** The endpoint it runs on, as given. */
  readonly endpoint: string
  /** Its address on the cluster's network: where other nodes reach it. */
  readonly address: string
  /** Where its sshd is reached from this machine. */
  readonly sshHost: string
  readonly sshPort: number
  /** Its sshd's host key (`ssh-ed25519 AAAA…`). */
  readonly hostKey: string
  readonly size: NodeSize | undefined
}

/**
 * A docker cluster that is up.
 *
 * @since 0.1.0
 * @category models
 */
export interface DockerCluster {
  readonly name: string
  readonly endpoints: ReadonlyArray<string>
  readonly nodes: ReadonlyArray<DockerNode>
  /** The private key that logs in as root on every node. */
  readonly identityFile: string
  /** Each node's scratch directory. */
  readonly workdir: string
}

/**
 * The default scratch directory of a node.
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultWorkdir = "/var/lib/ducktape/work"

const defaultStartTimeout = Duration.seconds(60)
const releaseTimeout = Duration.seconds(90)

const invalid = (detail: string) => new DockerError({ endpoint: "docker", reason: "invalid-options", detail })

const randomName = () => `r${NodeCrypto.randomBytes(6).toString("hex").slice(0, 9)}`

const parseEndpoints = (list: ReadonlyArray<string> | undefined) =>
  Effect.gen(function*() {
    const given = list === undefined || list.length === 0 ? ["default"] : list
    const parsed = given.map(Engine.parseEndpoint)
    const bad = parsed.filter((p): p is string => typeof p === "string")
    if (bad.length > 0) return yield* Effect.fail(invalid(`bad endpoint ${bad.join("; ")}`))
    return yield* Effect.forEach(parsed as ReadonlyArray<Engine.Endpoint>, Engine.resolve)
  })

/** The endpoints the options name (DOCKER_HOST / context when none), or why they cannot be used. */
const planNodes = (options: DockerOptions) =>
  Effect.gen(function*() {
    const types = options.nodeTypes ?? defaultNodeTypes
    const groups = Cluster.normalize(options.nodes)
    const total = groups.reduce((n, g) => n + g.numNodes, 0)
    if (total < 1 || total > 200) return yield* Effect.fail(invalid(`a docker cluster needs 1 to 200 nodes, got ${total}`))
    const unknown = groups.filter((g) => g.nodeType !== undefined && types[g.nodeType] === undefined).map((g) => g.nodeType!)
    if (unknown.length > 0) {
      return yield* Effect.fail(invalid(`unknown node type ${unknown.map((t) => JSON.stringify(t)).join(", ")}; known: ${Object.keys(types).join(", ")} (add it to nodeTypes)`))
    }
    for (const [type, size] of Object.entries(types)) {
      if (size.cpus !== undefined && !(size.cpus > 0)) return yield* Effect.fail(invalid(`node type ${type}: cpus must be more than 0`))
      if (size.memory !== undefined && !/^\d+(\.\d+)?[bkmg]?$/i.test(size.memory)) {
        return yield* Effect.fail(invalid(`node type ${type}: memory ${JSON.stringify(size.memory)} is not a size like 512m or 2g`))
      }
    }
    let k = 0
    return groups.flatMap((g) =>
      Array.from({ length: g.numNodes }, () => ({ name: `n${++k}`, nodeType: g.nodeType, size: g.nodeType === undefined ? undefined : types[g.nodeType] }))
    )
  })

/**
 * Removes the containers, networks and volumes that sessions which are gone (their driver process ended, e.g. by
 * SIGKILL) left on the endpoints; lists them only with `dryRun`. Clusters of `up` stay.
 *
 * @since 0.1.0
 * @category utils
 */
export const clean = (options: { readonly endpoints?: ReadonlyArray<string>; readonly dryRun?: boolean } = {}): Effect.Effect<ReadonlyArray<Nodes.DockerLeftover>, DockerError> =>
  Effect.gen(function*() {
    const endpoints = yield* parseEndpoints(options.endpoints)
    const found = yield* Effect.forEach(endpoints, (e) => Effect.zipRight(Engine.ping(e), Nodes.cleanDead(e, isLive, options.dryRun === true)), {
      concurrency: "unbounded"
    })
    return found.flat()
  })

/**
 * One line per leftover, for people.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeLeftovers = (leftovers: ReadonlyArray<Nodes.DockerLeftover>): string =>
  leftovers.map((l) => `${l.endpoint}: ${l.kind} ${l.what} (session ${l.label})`).join("\n")

const start = (options: DockerOptions, keep: boolean, keyDir: string) =>
  Effect.gen(function*() {
    const name = options.name ?? randomName()
    if (!Nodes.namePattern.test(name)) return yield* Effect.fail(invalid(`name ${JSON.stringify(name)} must be 1-10 lowercase letters or digits, starting with a letter`))
    const workdir = options.workdir ?? defaultWorkdir
    if (!NodePath.isAbsolute(workdir) || workdir === "/") return yield* Effect.fail(invalid(`workdir must be an absolute path other than /, got ${JSON.stringify(workdir)}`))
    const nodes = yield* planNodes(options)
    const endpoints = yield* parseEndpoints(options.endpoints)
    yield* Effect.forEach(endpoints, Engine.ping, { concurrency: "unbounded", discard: true })
    // As at the start of every run: what dead sessions left goes first (Ryuk's job, done by the next run).
    const stale = (yield* Effect.forEach(endpoints, (e) => Nodes.cleanDead(e, isLive, false), { concurrency: "unbounded" })).flat()
    if (stale.length > 0) yield* Effect.logInfo(`removed what dead sessions left on docker:\n${describeLeftovers(stale)}`)
    const key = yield* Sshd.generateKeyPair(NodePath.join(keyDir, "id_ed25519")).pipe(
      Effect.mapError((e) => new DockerError({ endpoint: "docker", reason: "command-failed", detail: e.message }))
    )
    const started = yield* Nodes.start({
      name,
      sessionLabel: labelFor(`docker-${name}`),
      keep,
      authorizedKey: key.publicKey,
      workdir,
      nodes,
      endpoints,
      image: options.image,
      baseImage: options.baseImage,
      packages: options.packages ?? [],
      startTimeout: Duration.decode(options.startTimeout ?? defaultStartTimeout)
    })
    const cluster: DockerCluster = { name, endpoints: endpoints.map((e) => e.id), nodes: started, identityFile: key.privateKeyPath, workdir }
    return { cluster, endpoints }
  })

const tempKeyDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `ducktape-docker-${process.pid}-`))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * Containers for the life of a Scope: made now, removed (bounded in time, never failing) when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scoped = (options: DockerOptions): Effect.Effect<DockerCluster, DockerError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* tempKeyDir
    const { cluster } = yield* Effect.acquireRelease(start(options, false, dir), ({ cluster, endpoints }) =>
      // Bounded even here, where nothing can be interrupted; what is left then is `ducktape clean`'s.
      Release.bounded(Nodes.removeEverywhere(endpoints, cluster.name), releaseTimeout, () => "timed out").pipe(
        Effect.catchAllCause((cause) => Effect.logWarning(`could not remove docker cluster ${cluster.name}; \`ducktape clean\` will`, cause)),
        Effect.asVoid
      ))
    return cluster
  })

/**
 * The accounts of a docker cluster's nodes, as a Cluster (the runner allocates from it).
 *
 * @since 0.1.0
 * @category utils
 */
export const toCluster = (cluster: DockerCluster): Effect.Effect<Cluster.Cluster, RemoteConnectionError, Scope.Scope> =>
  Effect.gen(function*() {
    const accounts = yield* Effect.forEach(cluster.nodes, (n) =>
      SshAccount.make({
        hostname: n.name,
        sshHostname: n.sshHost,
        port: n.sshPort,
        user: "root",
        identityFile: cluster.identityFile,
        hostKey: n.hostKey,
        externallyRoutableIp: n.address,
        workdir: cluster.workdir
      }), { concurrency: 16 })
    return yield* Cluster.make(accounts.map((account, index) => ({ name: account.hostname, index, account, nodeType: cluster.nodes[index]!.nodeType })))
  })

/**
 * A Cluster of containers for the life of the Layer (`--cluster docker:N` is this).
 *
 * @since 0.1.0
 * @category constructors
 */
export const layer = (options: DockerOptions): Layer.Layer<Cluster.Cluster, DockerError | RemoteConnectionError> =>
  Layer.scoped(Cluster.Cluster, Effect.flatMap(scoped(options), toCluster))

/**
 * Options of `up`: a cluster that stays after this process, with its state and cluster file in `dir`.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpOptions extends DockerOptions {
  readonly dir: string
}

/**
 * Makes containers that stay up (for `ducktape docker up`): writes `cluster.json` (ducktape's format, for
 * `--cluster-file`), `known_hosts`, the key and `docker.json` (its state) in `dir`. A failed `up` leaves nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const up = (options: UpOptions): Effect.Effect<DockerCluster & { readonly clusterFile: string }, DockerError> =>
  Effect.gen(function*() {
    const dir = NodePath.resolve(options.dir)
    const prior = Nodes.readState(dir)
    if (prior !== undefined) {
      return yield* Effect.fail(new DockerError({
        endpoint: prior.endpoints.join(", "),
        reason: "name-conflict",
        detail: `${dir} already holds docker cluster ${JSON.stringify(prior.name)}`
      }))
    }
    // The engines first: a missing daemon or a refused socket is the problem to report, not the directory.
    const given = yield* parseEndpoints(options.endpoints)
    yield* Effect.forEach(given, Engine.ping, { concurrency: "unbounded", discard: true })
    yield* Effect.try({
      try: () => NodeFs.mkdirSync(dir, { recursive: true }),
      catch: (e) => invalid(`cannot create the state directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; pass a --dir you may write to`)
    })
    const { cluster, endpoints } = yield* start({ ...options, name: options.name ?? "dtdocker" }, true, dir)
    return yield* Effect.try({
      try: () => {
        const knownHosts = NodePath.join(dir, "known_hosts")
        NodeFs.writeFileSync(knownHosts, cluster.nodes.map((n) => `${n.sshPort === 22 ? n.sshHost : `[${n.sshHost}]:${n.sshPort}`} ${n.hostKey}`).join("\n") + "\n")
        const clusterFile = NodePath.join(dir, "cluster.json")
        NodeFs.writeFileSync(clusterFile, JSON.stringify({
          nodes: cluster.nodes.map((n) => ({
            ssh_config: { host: n.name, hostname: n.sshHost, user: "root", port: n.sshPort, identityfile: cluster.identityFile },
            externally_routable_ip: n.address,
            ...(n.nodeType === undefined ? {} : { node_type: n.nodeType }),
            workdir: cluster.workdir
          })),
          known_hosts: knownHosts,
          docker: { name: cluster.name, endpoints: cluster.endpoints }
        }, null, 2) + "\n")
        const state: Nodes.UpState = { version: 1, name: cluster.name, endpoints: options.endpoints ?? ["default"], nodes: cluster.nodes }
        NodeFs.writeFileSync(Nodes.stateFile(dir), JSON.stringify(state, null, 2) + "\n")
        return { ...cluster, clusterFile }
      },
      catch: (e) => new DockerError({ endpoint: "docker", reason: "command-failed", detail: `cannot write the cluster file in ${dir}: ${String(e)}` })
    }).pipe(Effect.onError(() => Nodes.removeEverywhere(endpoints, cluster.name)))
  })

/**
 * Removes a cluster `up` made (by its `dir`, or by `name` on `endpoints`), and the files `up` wrote. Idempotent.
 *
 * @since 0.1.0
 * @category utils
 */
export const down = (options: { readonly dir?: string; readonly name?: string; readonly endpoints?: ReadonlyArray<string> }): Effect.Effect<{ readonly name: string; readonly containers: number; readonly networks: number }, DockerError> =>
  Effect.gen(function*() {
    const dir = options.dir === undefined ? undefined : NodePath.resolve(options.dir)
    const state = dir === undefined ? undefined : Nodes.readState(dir)
    const name = options.name ?? state?.name
    if (name === undefined) return { name: "?", containers: 0, networks: 0 }
    if (!Nodes.namePattern.test(name)) return yield* Effect.fail(invalid(`name ${JSON.stringify(name)} is not a docker cluster name`))
    const endpoints = yield* parseEndpoints(options.endpoints ?? state?.endpoints)
    yield* Effect.forEach(endpoints, Engine.ping, { concurrency: "unbounded", discard: true })
    const removed = yield* Effect.forEach(endpoints, (e) => Nodes.removeRun(e, name), { concurrency: "unbounded" })
    if (dir !== undefined && state !== undefined) {
      for (const f of ["cluster.json", "known_hosts", "id_ed25519", "id_ed25519.pub", "docker.json"]) NodeFs.rmSync(NodePath.join(dir, f), { force: true })
      try {
        NodeFs.rmdirSync(dir)
      } catch { /* not empty: keep it */ }
    }
    return { name, containers: removed.reduce((n, r) => n + r.containers, 0), networks: removed.reduce((n, r) => n + r.networks, 0) }
  })

/**
 * Builds (if missing) the default node image on an endpoint and returns its tag; with `packages`, the derived one.
 *
 * @since 0.1.0
 * @category utils
 */
export const ensureImage = (
  options: { readonly endpoint?: string; readonly packages?: ReadonlyArray<string>; readonly baseImage?: string } = {}
): Effect.Effect<string, DockerError> =>
  Effect.gen(function*() {
    const [endpoint] = yield* parseEndpoints(options.endpoint === undefined ? undefined : [options.endpoint])
    yield* Engine.ping(endpoint!)
    const base = yield* Image.ensureBase(endpoint!, options.baseImage)
    return options.packages === undefined || options.packages.length === 0 ? base : yield* Image.ensureDerived(endpoint!, base, options.packages)
  })

/**
 * Reads `--cluster docker:SPEC`: `docker:3` (3 untyped nodes), `docker:2,large=1` (2 untyped and 1 large);
 * `DUCKTAPE_DOCKER_IMAGE`, `DUCKTAPE_DOCKER_BASE_IMAGE`, `DUCKTAPE_DOCKER_PACKAGES` (comma-separated) and `DUCKTAPE_DOCKER_ENDPOINTS`
 * (comma-separated) add the other options. None when the text is not a docker spec; an error text when it is one
 * that is malformed.
 *
 * @since 0.1.0
 * @category utils
 */
export const parseClusterFlag = (text: string): Option.Option<DockerOptions | string> => {
  const m = /^docker(?::(.*))?$/.exec(text)
  if (m === null) return Option.none()
  const parts = (m[1] ?? "3").split(",").map((p) => p.trim()).filter((p) => p !== "")
  const groups: Array<{ numNodes: number; nodeType?: string }> = []
  for (const p of parts) {
    const g = /^(?:([a-z][a-z0-9_-]*)=)?(\d+)$/.exec(p)
    if (g === null) return Option.some(`--cluster ${text}: ${JSON.stringify(p)} is not N or TYPE=N (e.g. docker:3 or docker:2,large=1)`)
    groups.push(g[1] === undefined ? { numNodes: Number(g[2]) } : { numNodes: Number(g[2]), nodeType: g[1] })
  }
  const list = (v: string | undefined) => (v ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")
  const image = process.env["DUCKTAPE_DOCKER_IMAGE"]
  const baseImage = process.env["DUCKTAPE_DOCKER_BASE_IMAGE"]
  const packages = list(process.env["DUCKTAPE_DOCKER_PACKAGES"])
  const endpoints = list(process.env["DUCKTAPE_DOCKER_ENDPOINTS"])
  return Option.some({
    nodes: groups,
    ...(image === undefined || image === "" ? {} : { image }),
    ...(baseImage === undefined || baseImage === "" ? {} : { baseImage }),
    ...(packages.length === 0 ? {} : { packages }),
    ...(endpoints.length === 0 ? {} : { endpoints })
  })
}
