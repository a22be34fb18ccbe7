/**
 * A multi-host lab on one machine: N separate hosts made of Linux network namespaces, each with its own
 * address, hostname, working directory and OpenSSH server, on one bridge. The lab writes a ducktape-format
 * cluster file, so every cluster source and the runner can use it like machines on a real network.
 *
 * Layout (names derive from the lab `name`, at most 8 lowercase letters/digits, so a lab is found again after a
 * crash from its name alone):
 * - bridge `dt-<name>-br` in the root namespace with address `<subnet>.1/24`, and one iptables FORWARD ACCEPT
 *   rule for it (comment `dt-lab:<name>`) so the lab works even where the FORWARD policy is DROP;
 * - per node k (1-based): network namespace `<name>-n<k>`, veth `dt-<name>-<k>` on the bridge whose peer is
 *   `eth0` in the namespace with address `<subnet>.(10+k)/24`, loopback up, default route via the bridge;
 * - per node an sshd on port 22 of the node's address, run under `unshare --mount --propagation slave --uts`
 *   with hostname `n<k>`, the node's own directory `<dir>/nodes/n<k>/work` bind-mounted on the common path
 *   `workdir` (default `/var/lib/ducktape-lab/work`), and a lab hosts file on `/etc/hosts` so nodes resolve
 *   each other (and themselves) by name;
 * - in `dir`: `lab.json` (state, written before anything else is made), `cluster.json`, `known_hosts`,
 *   `id_ed25519` (+ `.pub`, the key root logs in with), `authorized_keys`, `hosts`, and
 *   `nodes/n<k>/{sshd_config, ssh_host_ed25519_key, sshd.pid, sshd.log, work/, home/}`.
 *
 * `cluster.json` follows ducktape's format; besides `ssh_config` and `externally_routable_ip` each node has
 * `workdir` (the common working directory path on the node) and `netns` (its namespace), and the top level has
 * `known_hosts` (path of the lab's known_hosts file) and `lab` (`name`, `subnet`, `bridge`, `dir`). ducktape
 * ignores extra keys.
 *
 * `down` ends every process in the lab's namespaces: whatever runs in a node belongs to the lab. It leaves two
 * shared directories it may have created: the empty mount point `workdir` (other labs may have nodes mounted on
 * it) and `/run/sshd`.
 *
 * Requires root, iproute2, iptables, util-linux (`unshare`) and OpenSSH (`sshd`, `ssh-keygen`).
 *
 * @since 0.1.0
 */
import type { Duration, Layer, Scope } from "effect"
import { Context, Effect } from "effect"
import type { LabError } from "./internal/cluster/lab/errors.js"
import * as internal from "./internal/cluster/lab.js"

export { installHint, LabError, LabFailure } from "./internal/cluster/lab/errors.js"

/**
 * How to bring a lab up.
 *
 * @since 0.1.0
 * @category models
 */
export interface LabOptions {
  /** How many hosts (1–244). */
  readonly nodes: number
  /** The lab's id: 1–8 lowercase letters or digits, starting with a letter. Default `dtlab`. Tests running
   * side by side must use distinct names (e.g. `t${process.pid}`). */
  readonly name?: string
  /** The lab's IPv4 /24, written `a.b.c.0/24`. Default: a free `10.201.<k>.0/24`, `<k>` derived from the name. */
  readonly subnet?: string
  /** The state directory (keys, sshd configs, node directories, cluster file); created if missing. */
  readonly dir: string
  /** The path at which each node sees its own working directory. Default `/var/lib/ducktape-lab/work`. */
  readonly workdir?: string
  /** Extra public-key lines allowed to log in as root on every node, besides the lab's own key. */
  readonly authorizedKeys?: ReadonlyArray<string>
  /** Extra sshd_config lines for every node. They add settings; they cannot change one the lab sets (sshd keeps
   * the first value of each keyword). */
  readonly sshdConfig?: ReadonlyArray<string>
}

/**
 * One host of a lab.
 *
 * @since 0.1.0
 * @category models
 */
export interface LabNode {
  /** Logical name and hostname: `n1`, `n2`, … */
  readonly name: string
  /** The node's IPv4 address; its sshd listens on port `sshPort` there. */
  readonly address: string
  /** The sshd port (22). */
  readonly sshPort: number
  /** The node's network namespace (`ip netns exec <netns> …` runs a command in its network). */
  readonly netns: string
  /** The root-namespace end of the node's veth pair; `ip link set <veth> down` cuts the node off. */
  readonly veth: string
  /** The node's working directory as the node sees it (the same path on every node). */
  readonly workdir: string
  /** The same directory as seen from the root namespace (distinct per node). */
  readonly hostWorkdir: string
  /** HOME of ssh sessions on the node (keeps root's shell startup files out of commands). */
  readonly home: string
  /** The sshd's config, pid file and log. */
  readonly sshdConfig: string
  readonly pidFile: string
  readonly logFile: string
}

/**
 * A lab that is up.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lab {
  readonly name: string
  /** The state directory (absolute). */
  readonly dir: string
  /** `a.b.c.0/24` */
  readonly subnet: string
  /** The bridge's address, the nodes' default gateway. */
  readonly gateway: string
  readonly bridge: string
  /** The common working directory path on every node. */
  readonly workdir: string
  /** The ducktape-format cluster file. */
  readonly clusterFile: string
  /** known_hosts with every node's host key, under its name and its address. */
  readonly knownHostsFile: string
  /** The private key that logs in as root on every node. */
  readonly identityFile: string
  readonly nodes: ReadonlyArray<LabNode>
}

/**
 * The lab provided to a test or a cluster layer.
 *
 * @since 0.1.0
 * @category tags
 */
export const Lab: Context.Tag<Lab, Lab> = Context.GenericTag<Lab>("ducktape/Lab")

/**
 * Which lab to take down: by name, by state directory, or both.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownOptions {
  /** The lab's name; optional when `dir` holds its `lab.json`. */
  readonly name?: string
  /** The lab's state directory; without it, files are left alone but everything else is still found by name. */
  readonly dir?: string
  /** Keep the files in `dir` (logs, workdirs) instead of removing what the lab wrote there. */
  readonly keepFiles?: boolean
  /** Overall limit for the teardown. Default 30 seconds. */
  readonly timeout?: Duration.DurationInput
}

/**
 * What `down` removed. All empty when there was nothing to remove.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownSummary {
  readonly name: string
  readonly namespaces: ReadonlyArray<string>
  readonly links: ReadonlyArray<string>
  /** How many processes (sshds, sessions, services started on the nodes) were ended. */
  readonly processes: number
  readonly iptablesRules: number
  /** Pids that did not die (e.g. stuck in uninterruptible sleep); empty normally. */
  readonly survivors: ReadonlyArray<number>
}

export { defaultName, defaultWorkdir } from "./internal/cluster/lab/names.js"

/**
 * Brings a lab up and leaves it up (for `ducktape lab up`; tests use `scoped`). A lab of the same name left
 * from before is taken down first. On any failure or interruption, everything made so far is removed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const up = (options: LabOptions): Effect.Effect<Lab, LabError> => internal.up(options)

/**
 * Takes a lab down: ends every process in its namespaces (sshds, their sessions, services), deletes the
 * namespaces, veths, bridge and iptables rules, and removes the files it wrote in `dir`. Works after a crash
 * and when nothing is left (idempotent).
 *
 * @since 0.1.0
 * @category utils
 */
export const down = (options: DownOptions): Effect.Effect<DownSummary, LabError> => internal.down(options)

/**
 * A lab for the life of a Scope: up now, down (with a timeout, never failing) when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scoped = (options: LabOptions): Effect.Effect<Lab, LabError, Scope.Scope> => internal.scoped(options)

/**
 * `scoped` as a Layer providing `Lab`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const layer = (options: LabOptions): Layer.Layer<Lab, LabError> => internal.layer(Lab, options)

/**
 * Reads the lab recorded in a state directory (its `lab.json`); fails if there is none.
 *
 * @since 0.1.0
 * @category utils
 */
export const read = (dir: string): Effect.Effect<Lab, LabError> => internal.read(dir)

/**
 * Names of the labs whose bridge or veths are present on this machine.
 *
 * @since 0.1.0
 * @category utils
 */
export const list: Effect.Effect<ReadonlyArray<string>, LabError> = Effect.suspend(() => internal.list)

/**
 * The argv that runs `argv` inside a node's network namespace (for faults: iptables, `ip link`, …).
 *
 * @since 0.1.0
 * @category utils
 */
export const netnsExec = (node: LabNode, argv: ReadonlyArray<string>): ReadonlyArray<string> => [
  "ip",
  "netns",
  "exec",
  node.netns,
  ...argv
]
