/** Clusters from an OpenSSH config file, read by OpenSSH itself (`ssh -G`). */
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect, Layer } from "effect"
import type * as C from "../../Cluster.js"
import { ClusterConfigError } from "./errors.js"
import { Cluster } from "./tag.js"
import { errorText } from "../shared/errorText.js"
import * as KnownHosts from "../remote/ssh/knownHosts.js"
import { connectNodes, didYouMean, isLoopback, type JumpConfig, readText, resolveFrom, type SshNodeConfig } from "./sshNodes.js"

// An ssh_config is read by OpenSSH itself: `ssh -G -F FILE ALIAS` prints every option as ssh would use it for that
// host. That gives ssh's exact semantics — first value wins, `Host * !bastion`, Include, Match, %-tokens, and an
// error with file and line for anything ssh refuses — which a separate parser (the `ssh-config` npm package, or
// ours before) only approximates: ours applied `Host * !bastion`'s User to bastion, and `Match host` tests the
// HostName as it stands at that line. The cost is a process per host, run 8 at a time, once per run: measured on
// this 2-core machine under load 17, ~12 ms of CPU and ~60 ms wall per `ssh -G`; a 32-host file took 2.1 s and a
// 128-host file 8.5 s (median of 5; on an idle machine expect several times less).

/** Options that `ssh -G` prints for one host, first value per key except the listed multi-valued ones. */
type SshOptions = ReadonlyMap<string, ReadonlyArray<string>>

const sshG = (source: string, args: ReadonlyArray<string>): Effect.Effect<SshOptions, ClusterConfigError> =>
  Effect.async<SshOptions, ClusterConfigError>((resume) => {
    const child = NodeChild.execFile("ssh", ["-G", ...args], { timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err !== null) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          return resume(Effect.fail(new ClusterConfigError({
            source,
            problem: "reading an ssh config needs the OpenSSH client (`ssh`), and it is not installed",
            fix: "install it (apt-get install -y openssh-client), or describe the nodes in a cluster.json (--cluster-file)"
          })))
        }
        return resume(Effect.fail(sshConfigError(source, stderr || errorText(err))))
      }
      const options = new Map<string, Array<string>>()
      for (const line of stdout.split("\n")) {
        const at = line.indexOf(" ")
        if (at <= 0) continue
        const key = line.slice(0, at)
        options.set(key, [...(options.get(key) ?? []), line.slice(at + 1)])
      }
      resume(Effect.succeed(options))
    })
    return Effect.sync(() => child.kill())
  })

/** ssh's own complaint about a config file (`FILE line 3: Bad configuration option: conecttimeout`), as a ClusterConfigError. */
const sshConfigError = (source: string, stderr: string): ClusterConfigError => {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("Pseudo-terminal"))
  const located = lines.map((l) => /^(.*?):? line (\d+): (.*)$/.exec(l)).find((m) => m !== null)
  if (located == null) {
    return new ClusterConfigError({ source, problem: `ssh cannot read it: ${lines.join("; ")}`, fix: "fix the file (see ssh_config(5))" })
  }
  const problem = located[3]!
  const unknown = /^Bad configuration option: (\S+)/.exec(problem)?.[1]
  const guess = unknown === undefined ? undefined : didYouMean(unknown, sshOptionNames)
  return new ClusterConfigError({
    source: `${located[1]}:${located[2]}`,
    problem: `ssh refuses this line: ${problem}`,
    fix: guess !== undefined ? `did you mean ${guess}? (ssh_config(5) lists the options)` : "fix or remove the line (see ssh_config(5))"
  })
}

/** The ssh_config options a typo is most likely meant as (the ones cluster files use). */
const sshOptionNames = [
  "Host", "Match", "Include", "HostName", "User", "Port", "IdentityFile", "IdentitiesOnly", "ConnectTimeout",
  "StrictHostKeyChecking", "UserKnownHostsFile", "ProxyJump", "ProxyCommand", "ForwardAgent", "LogLevel",
  "PasswordAuthentication", "PubkeyAuthentication", "ServerAliveInterval", "ServerAliveCountMax", "Compression",
  "ControlMaster", "ControlPath", "ControlPersist", "HostKeyAlias", "CertificateFile", "AddKeysToAgent"
]

/** Host aliases named in `Host` lines (no patterns), of the file and of the files it Includes, in file order. */
const hostAliases = (path: string, depth = 0): Effect.Effect<ReadonlyArray<string>, ClusterConfigError> =>
  Effect.gen(function*() {
    if (depth > 16) return [] // ssh refuses deeper nesting itself, with its own message
    const text = yield* readText(path, path)
    const aliases: Array<string> = []
    for (const raw of text.split(/\r?\n/)) {
      const m = /^\s*(\w+)(?:\s*=\s*|\s+)(.*?)\s*$/.exec(raw.replace(/(^|\s)#.*$/, ""))
      if (m === null) continue
      const key = m[1]!.toLowerCase()
      const words = m[2]!.split(/\s+/).map((w) => w.replace(/^"(.*)"$/, "$1")).filter((w) => w !== "")
      if (key === "host") {
        aliases.push(...words.filter((w) => !/[*?!]/.test(w)))
      } else if (key === "include") {
        for (const pattern of words) {
          // As ssh reads a `-F` file: a relative Include is under ~/.ssh.
          const full = pattern.startsWith("~") ? NodeOs.homedir() + pattern.slice(1)
            : NodePath.isAbsolute(pattern) ? pattern
            : NodePath.join(NodeOs.homedir(), ".ssh", pattern)
          for (const file of yield* includedFiles(full)) aliases.push(...(yield* hostAliases(file, depth + 1)))
        }
      }
    }
    return aliases
  })

/** The files an Include pattern names (wildcards in its last part, matched as ssh matches patterns), sorted. */
const includedFiles = (pattern: string): Effect.Effect<ReadonlyArray<string>> => {
  const dir = NodePath.dirname(pattern)
  const base = NodePath.basename(pattern)
  if (!/[*?]/.test(base)) return Effect.promise(() => NodeFs.access(pattern).then(() => [pattern], () => []))
  return Effect.promise(() =>
    NodeFs.readdir(dir).then(
      (names) => names.filter((n) => !n.startsWith(".") && KnownHosts.sshPatternMatches(base, n)).sort().map((n) => NodePath.join(dir, n)),
      () => []
    )
  )
}

/** ssh's answer for a key, or undefined where it is ssh's default (what `ssh -G -F /dev/null` prints). */
const setting = (options: SshOptions, defaults: SshOptions, key: string): ReadonlyArray<string> | undefined => {
  const value = options.get(key)
  if (value === undefined) return undefined
  const fallback = defaults.get(key)
  return fallback !== undefined && fallback.join("\n") === value.join("\n") ? undefined : value
}

const strictOf = (value: ReadonlyArray<string> | undefined): boolean | undefined =>
  value === undefined ? undefined : !["false", "no", "off"].includes(value[0]!.toLowerCase())

/** A ProxyJump value (`[user@]host[:port]` or `ssh://[user@]host[:port]`, comma-separated) as hops. */
const parseJumps = (value: string) =>
  value.split(",").map((hop) => {
    const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop.trim())
    return m === null ? undefined : { user: m[1], host: m[2]!.replace(/^\[(.*)\]$/, "$1"), port: m[3] === undefined ? undefined : Number(m[3]) }
  })

/** @internal */
export const readSshConfig = (path: string): Effect.Effect<ReadonlyArray<SshNodeConfig>, ClusterConfigError> =>
  Effect.gen(function*() {
    const aliases = [...new Set(yield* hostAliases(path))]
    const base = NodePath.dirname(NodePath.resolve(path))
    const defaults = yield* sshG(path, ["-F", "/dev/null", "ducktape-defaults"])
    const resolveList = (v: ReadonlyArray<string> | undefined) => v?.map((p) => resolveFrom(base, p)!)
    /** Hosts named as another's jump host: bastions, not nodes for tests. */
    const jumpHosts = new Set<string>()

    /** The jump hosts of a host: its ProxyJump hops, each read from the file too (a first hop's own ProxyJump first). */
    const jumpsOf = (host: string, value: string | undefined, depth: number): Effect.Effect<ReadonlyArray<JumpConfig> | undefined, ClusterConfigError> =>
      Effect.gen(function*() {
        if (value === undefined || value === "none") return undefined
        if (depth > 8) {
          return yield* Effect.fail(new ClusterConfigError({ source: path, problem: `Host ${host}: its ProxyJump chain loops`, fix: "make the chain end at a host reached directly" }))
        }
        const hops: Array<JumpConfig> = []
        const parsed = parseJumps(value)
        for (let i = 0; i < parsed.length; i++) {
          const hop = parsed[i]
          if (hop === undefined) {
            return yield* Effect.fail(new ClusterConfigError({ source: path, problem: `Host ${host}: cannot read ProxyJump ${JSON.stringify(value)}`, fix: "write ProxyJump [user@]host[:port][,…]" }))
          }
          jumpHosts.add(hop.host)
          const o = yield* sshG(path, ["-F", path, ...(hop.user === undefined ? [] : ["-l", hop.user]), ...(hop.port === undefined ? [] : ["-p", String(hop.port)]), hop.host])
          // As `ssh -J a,b`: the first hop may have its own ProxyJump; later hops are reached through the ones before.
          if (i === 0) hops.push(...((yield* jumpsOf(hop.host, o.get("proxyjump")?.[0], depth + 1)) ?? []))
          hops.push({
            hostname: o.get("hostname")?.[0] ?? hop.host,
            user: o.get("user")?.[0],
            port: Number(o.get("port")?.[0] ?? 22),
            identityFile: resolveList(setting(o, defaults, "identityfile")),
            strictHostKeyChecking: strictOf(setting(o, defaults, "stricthostkeychecking")),
            knownHostsFile: resolveFrom(base, setting(o, defaults, "userknownhostsfile")?.[0]?.split(/\s+/)[0])
          })
        }
        return hops
      })

    const configs = yield* Effect.forEach(aliases, (alias) =>
      Effect.gen(function*() {
        const o = yield* sshG(path, ["-F", path, alias])
        if (o.has("proxycommand")) {
          return yield* Effect.fail(new ClusterConfigError({
            source: path,
            problem: `Host ${alias}: ProxyCommand is not supported (ducktape connects with its own SSH client)`,
            fix: "use ProxyJump [user@]host[:port] for a bastion, or reach the node directly"
          }))
        }
        const hostname = o.get("hostname")?.[0] ?? alias
        const timeout = setting(o, defaults, "connecttimeout")?.[0]
        const proxyJump = yield* jumpsOf(alias, o.get("proxyjump")?.[0], 0)
        return {
          host: alias,
          hostname,
          user: o.get("user")?.[0],
          port: Number(o.get("port")?.[0] ?? 22),
          password: undefined,
          identityFile: resolveList(setting(o, defaults, "identityfile"))?.[0],
          connectTimeoutSeconds: timeout === undefined || timeout === "none" ? undefined : Number(timeout),
          strictHostKeyChecking: strictOf(setting(o, defaults, "stricthostkeychecking")),
          knownHostsFile: resolveFrom(base, setting(o, defaults, "userknownhostsfile")?.[0]?.split(/\s+/)[0]),
          // `vagrant ssh-config` names 127.0.0.1 and a forwarded port for every VM; behind a jump host, loopback is
          // the jump host's, and the node is asked too.
          externallyRoutableIp: isLoopback(hostname) ? undefined : hostname,
          askExternallyRoutableIp: isLoopback(hostname),
          nodeType: undefined,
          workdir: undefined,
          ...(proxyJump === undefined ? {} : { proxyJump })
        } satisfies SshNodeConfig
      }), { concurrency: 8 })
    const bastions = configs.filter((c) => jumpHosts.has(c.host))
    if (bastions.length > 0) {
      yield* Effect.logInfo(`${path}: ${bastions.map((c) => c.host).join(", ")} only serve as ProxyJump hosts, not as nodes`)
    }
    return configs.filter((c) => !jumpHosts.has(c.host))
  })

/** @internal */
export const fromSshConfig = (path: string, options: C.SshSourceOptions = {}) =>
  Layer.scoped(
    Cluster,
    Effect.gen(function*() {
      const configs = yield* readSshConfig(path)
      return yield* connectNodes(path, configs, options, "ssh_config")
    })
  )
