/**
 * Clusters of ssh nodes, whatever file described them (a cluster.json, an ssh_config): connecting to every node, and
 * hints that name the setting to change, spelled as that file spells it.
 */
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect, Either, Redacted } from "effect"
import type * as C from "../../Cluster.js"
import { ClusterConfigError, UnreachableNodes } from "./errors.js"
import type { RemoteConnectionError } from "../../RemoteAccount.js"
import * as SshAccount from "../../SshAccount.js"
import * as KnownHosts from "../remote/ssh/knownHosts.js"
import { nearest } from "../shared/nearest.js"
import { makePool, nodesOf } from "./pool.js"

/** One node of an ssh-based source, before connecting. */
export interface SshNodeConfig {
  readonly host: string
  readonly hostname: string
  readonly user: string | undefined
  readonly port: number
  readonly password: string | undefined
  readonly identityFile: string | undefined
  readonly connectTimeoutSeconds: number | undefined
  readonly strictHostKeyChecking: boolean | undefined
  readonly knownHostsFile: string | undefined
  readonly externallyRoutableIp: string | undefined
  /** Reached through a port forwarded to the driver's loopback: the node itself says where others reach it. */
  readonly askExternallyRoutableIp: boolean
  readonly nodeType: string | undefined
  readonly workdir: string | undefined
  /** Jump hosts (ProxyJump), first hop first. */
  readonly proxyJump?: ReadonlyArray<JumpConfig>
}

/** One jump host of a node, as its ssh_config gives it. */
export interface JumpConfig {
  readonly hostname: string
  readonly user: string | undefined
  readonly port: number
  readonly identityFile: ReadonlyArray<string> | undefined
  readonly strictHostKeyChecking: boolean | undefined
  readonly knownHostsFile: string | undefined
}

/** How a cluster file spells its settings, so that a hint names the key the file itself would hold. */
type Spelling = "cluster.json" | "ssh_config"

const settingName: Record<Spelling, Record<"hostname" | "port" | "user" | "identity" | "timeout" | "strictOff", string>> = {
  "cluster.json": {
    hostname: `"hostname"`,
    port: `"port"`,
    user: `"user"`,
    identity: `"identityfile" (or "password")`,
    timeout: `"connecttimeout" (seconds)`,
    strictOff: `"stricthostkeychecking": "no"`
  },
  ssh_config: {
    hostname: "HostName",
    port: "Port",
    user: "User",
    identity: "IdentityFile",
    timeout: "ConnectTimeout (seconds)",
    strictOff: "StrictHostKeyChecking no"
  }
}

/** Single quotes for a shell word shown in a hint. */
const shellWord = (s: string) => (/^[\w@%+=:,./~-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/**
 * Why a node cannot be reached, without its name (nodes behind one sshd then share the line), and the fix in the
 * cluster file's own words.
 */
const unreachableReason = (error: { readonly _tag: string; readonly message: string }, c: SshNodeConfig, spelling: Spelling): string => {
  if (error._tag !== "RemoteConnectionError") return error.message
  const e = error as RemoteConnectionError
  const words = settingName[spelling]
  const where = spelling === "cluster.json" ? "in the node's ssh_config" : "in its Host block"
  const knownHosts = c.knownHostsFile ?? "~/.ssh/known_hosts"
  const address = `${c.hostname}:${c.port}`
  const fix = e.reason === "refused"
    ? `is sshd running on ${address}? check ${words.hostname} and ${words.port} ${where}`
    : e.reason === "auth"
    ? `check ${words.user} and ${words.identity} ${where}`
    : e.reason === "timeout"
    ? `is the host up and reachable from here? for a slow link raise ${words.timeout} ${where}`
    : e.reason === "dns"
    ? `check ${words.hostname} ${where}`
    : e.reason === "unknown-host"
    ? `add its key: ssh-keyscan -p ${c.port} ${shellWord(c.hostname)} >> ${shellWord(knownHosts)}; or, for throw-away ` +
      `hosts only, set ${words.strictOff} ${where}`
    : e.reason === "host-key"
    ? `if the host was reinstalled, remove its old key (ssh-keygen -R ${shellWord(KnownHosts.lookupName(c.hostname, c.port))} ` +
      `-f ${shellWord(knownHosts)}) and add the new one; otherwise someone may be in the way`
    : e.reason === "closed"
    ? "the connection dropped; the host may have rebooted or sshd restarted"
    : "see the detail above"
  return `${address} (${e.reason}: ${e.detail}); ${fix}`
}

/** A loopback host name or address: every node behind one would claim the same address. @internal */
export const isLoopback = (hostname: string) => /^127\./.test(hostname) || hostname === "localhost" || hostname === "::1"

/** Where a node's scratch lives when the cluster definition does not say. */
const defaultSshWorkdir = "/tmp/ducktape"

export const connectNodes = (source: string, configs: ReadonlyArray<SshNodeConfig>, options: C.SshSourceOptions, spelling: Spelling) =>
  Effect.gen(function*() {
    if (configs.length === 0) {
      return yield* Effect.fail(
        new ClusterConfigError({ source, problem: "it defines no nodes", fix: "add at least one node" })
      )
    }
    const names = new Set<string>()
    for (const c of configs) {
      if (names.has(c.host)) {
        return yield* Effect.fail(
          new ClusterConfigError({
            source,
            problem: `two nodes are named ${JSON.stringify(c.host)}`,
            fix: "give every node its own host name"
          })
        )
      }
      names.add(c.host)
    }
    const results = yield* Effect.forEach(
      configs,
      (c) =>
        SshAccount.make({
          hostname: c.host,
          sshHostname: c.hostname,
          port: c.port,
          user: c.user ?? NodeOs.userInfo().username,
          ...(c.identityFile === undefined ? {} : { identityFile: c.identityFile }),
          ...(c.password === undefined ? {} : { password: Redacted.make(c.password) }),
          ...(c.connectTimeoutSeconds === undefined ? {} : { connectTimeout: `${c.connectTimeoutSeconds} seconds` }),
          strictHostKeyChecking: c.strictHostKeyChecking ?? options.strictHostKeyChecking ?? true,
          ...(c.knownHostsFile === undefined ? {} : { knownHosts: c.knownHostsFile }),
          ...(c.externallyRoutableIp !== undefined
            ? { externallyRoutableIp: c.externallyRoutableIp }
            : c.askExternallyRoutableIp
            ? { askExternallyRoutableIp: true }
            : { externallyRoutableIp: c.hostname }),
          workdir: c.workdir ?? defaultSshWorkdir,
          ...(c.proxyJump === undefined ? {} : {
            proxyJump: c.proxyJump.map((j) => ({
              hostname: j.hostname,
              port: j.port,
              ...(j.user === undefined ? {} : { user: j.user }),
              ...(j.identityFile === undefined ? {} : { identityFile: j.identityFile }),
              strictHostKeyChecking: j.strictHostKeyChecking ?? options.strictHostKeyChecking ?? true,
              ...(j.knownHostsFile === undefined ? {} : { knownHosts: j.knownHostsFile })
            }))
          })
        }).pipe(
          Effect.tap((account) =>
            options.healthCheck === false ? Effect.void : account.mkdirs(account.workdir)
          ),
          Effect.tap((account) =>
            c.askExternallyRoutableIp
              ? Effect.logInfo(`${c.host} is reached through ${c.hostname}:${c.port}; it says others reach it at ${account.externallyRoutableIp}`)
              : Effect.void
          ),
          Effect.map((account) => ({ account, nodeType: c.nodeType })),
          Effect.either
        ),
      { concurrency: 32 }
    )
    const failed = results.flatMap((r, i) =>
      Either.isLeft(r) ? [{ name: configs[i]!.host, reason: unreachableReason(r.left, configs[i]!, spelling) }] : []
    )
    if (failed.length > 0) return yield* Effect.fail(new UnreachableNodes({ nodes: failed }))
    return yield* makePool(nodesOf(results.flatMap((r) => (Either.isRight(r) ? [r.right] : []))))
  })

export const readText = (source: string, path: string) =>
  Effect.tryPromise({
    try: () => NodeFs.readFile(path, "utf8"),
    catch: (e) =>
      new ClusterConfigError({
        source,
        problem: (e as NodeJS.ErrnoException).code === "ENOENT" ? "the file does not exist" : `cannot read it: ${String(e)}`,
        fix: "check the path (it is relative to the current directory)"
      })
  })

/** The setting a mistyped name most likely means (case, `_` and `-` aside, at most a third of it changed). */
export const didYouMean = (name: string, candidates: ReadonlyArray<string>): string | undefined =>
  nearest(name, candidates, { normalize: (s) => s.toLowerCase().replace(/[_-]/g, ""), maxDistance: (n) => Math.max(2, Math.floor(n.length / 3)) })

/** A path a file gives, resolved against the file's directory (`~` is the user's home). */
export const resolveFrom = (base: string, p: string | null | undefined) =>
  p === undefined || p === null ? undefined : NodePath.resolve(base, p.replace(/^~(?=\/|$)/, NodeOs.homedir()))
