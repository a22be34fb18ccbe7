/**
 * Talking to Docker engines.
 *
 * Why the Docker CLI and not the Engine API over the socket: the CLI reaches every kind of endpoint a
 * user names — unix sockets, tcp://, ssh:// engines (it tunnels over the user's own ssh with `docker system
 * dial-stdio`) and contexts — with the user's own configuration and credentials, and `docker import` / `build`
 * stream contexts for us. An API client would have to reimplement the ssh transport and the context store. The cost
 * is a process per call (~30-60 ms), paid only while containers are made and removed, never per test command (those
 * go over ssh). Debian's `/usr/bin/docker` is taken first because another `docker` (a client of some other engine,
 * or a wrapper) may come first on the PATH; without it, the PATH's (Docker Desktop's is in /usr/local/bin).
 */
import * as ChildProcess from "node:child_process"
import { Effect } from "effect"
import { findExecutable, pathDirectories } from "../../shared/executables.js"
import type { DockerFailure } from "./errors.js"
import { DockerError } from "./errors.js"

/** Where the Docker CLI is looked for first. */
const debianCli = "/usr/bin"

/** The Docker CLI we run: Debian's if installed, else the first `docker` on the PATH (`path`, this process's). */
export const findCli = (path?: string, first: string = debianCli): string | undefined =>
  findExecutable("docker", [first, ...pathDirectories(path)])

/** One Docker engine, as the user named it. */
export interface Endpoint {
  /** How the user wrote it (for messages): `default`, `unix:///…`, `ssh://user@host`, `context:NAME`. */
  readonly id: string
  /** The CLI flags that select it. */
  readonly flags: ReadonlyArray<string>
  /** Whether its containers' addresses are reachable from this machine (a local engine). */
  readonly local: boolean
  /** For a remote engine, the host name its published ports are reached at. */
  readonly host: string | undefined
}

/** Parses an endpoint: `default` (DOCKER_HOST or the CLI's current context), a URL, or `context:NAME`. */
export const parseEndpoint = (text: string): Endpoint | string => {
  const t = text.trim()
  if (t === "" || t === "default") {
    const env = process.env["DOCKER_HOST"]
    if (env !== undefined && env !== "") {
      const inner = parseEndpoint(env)
      return typeof inner === "string" ? inner : { ...inner, id: `default (DOCKER_HOST=${env})` }
    }
    return { id: "default", flags: [], local: true, host: undefined }
  }
  if (t.startsWith("context:")) {
    const name = t.slice("context:".length)
    if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(name)) return `${JSON.stringify(t)}: not a context name`
    // A context may point anywhere; its containers are reached through published ports unless it is local.
    return { id: t, flags: ["--context", name], local: false, host: undefined }
  }
  const m = /^(unix|tcp|ssh):\/\/(.*)$/.exec(t)
  if (m === null) return `${JSON.stringify(t)}: write unix:///path/docker.sock, tcp://HOST:PORT, ssh://[USER@]HOST or context:NAME`
  if (m[1] === "unix") return { id: t, flags: ["-H", t], local: true, host: undefined }
  const host = /^(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/.exec(m[2] ?? "")?.[1]
  if (host === undefined || host === "") return `${JSON.stringify(t)}: no host name in it`
  const local = host === "localhost" || host.startsWith("127.")
  return { id: t, flags: ["-H", t], local, host }
}

/** What a CLI call printed. */
export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The reason Docker's own words point to, if they name a known one. */
export const classify = (text: string): DockerFailure | undefined =>
  /no space left on device/i.test(text)
    ? "disk-full"
    : /permission denied while trying to connect/i.test(text)
    ? "no-permission"
    // Docker's ssh helper: ssh itself failed, or the far side has no docker CLI (it reports either as this command).
    : /command \[ssh .*\] has exited|Permission denied \(publickey|Host key verification failed|Could not resolve hostname|ssh: connect to host/i.test(text)
    ? "ssh-failed"
    : /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect|dial unix .*(no such file|connection refused)|connection refused/i
        .test(text)
    ? "no-daemon"
    : /Conflict\. The (container|network) name|already exists|is already in use/i.test(text)
    ? "name-conflict"
    : /No such image|pull access denied|repository does not exist|manifest unknown|not found: manifest/i.test(text)
    ? "image-not-found"
    : /Range of CPUs|Minimum memory limit|invalid (argument|value)|cannot be used with|unknown flag/i.test(text)
    ? "invalid-options"
    : undefined

const callTimeoutMs = 120_000

/**
 * Runs the Docker CLI against an endpoint. Each call carries its own kill timer, so it ends even where nothing can
 * be interrupted (a scope's release).
 */
export const run = (
  endpoint: Endpoint,
  args: ReadonlyArray<string>,
  options: { readonly stdin?: string; readonly timeoutMs?: number; readonly env?: Record<string, string> } = {}
): Effect.Effect<Ran, DockerError> =>
  Effect.async<Ran, DockerError>((resume) => {
    const dockerCli = findCli()
    if (dockerCli === undefined) {
      resume(Effect.fail(new DockerError({ endpoint: endpoint.id, reason: "missing-tool", detail: "no Docker CLI: neither /usr/bin/docker nor a `docker` on the PATH" })))
      return
    }
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, LC_ALL: "C" }
    // An endpoint named explicitly must not be overridden (or contradicted) by the environment's.
    if (endpoint.flags.length > 0) {
      delete env["DOCKER_HOST"]
      delete env["DOCKER_CONTEXT"]
    }
    const child = ChildProcess.spawn(dockerCli, [...endpoint.flags, ...args], { env, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let timedOut = false
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.stdin.on("error", () => undefined)
    child.stdin.end(options.stdin ?? "")
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, options.timeoutMs ?? callTimeoutMs)
    child.on("error", (e) => {
      clearTimeout(timer)
      resume(Effect.fail(new DockerError({ endpoint: endpoint.id, reason: "missing-tool", detail: `cannot run ${dockerCli}: ${e.message}` })))
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      if (timedOut) {
        resume(Effect.fail(new DockerError({
          endpoint: endpoint.id,
          reason: "timeout",
          detail: `\`docker ${args.slice(0, 3).join(" ")}…\` did not finish within ${Math.round((options.timeoutMs ?? callTimeoutMs) / 1000)} s`
        })))
      } else resume(Effect.succeed({ code: code ?? 255, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** The error a failed call means, with Docker's own last words. */
export const failure = (endpoint: Endpoint, args: ReadonlyArray<string>, ran: Ran, fallback: DockerFailure = "command-failed") =>
  new DockerError({
    endpoint: endpoint.id,
    reason: classify(ran.stderr + ran.stdout) ?? fallback,
    detail: `\`docker ${args.filter((a) => !a.includes("\n")).slice(0, 4).join(" ")}…\` failed (exit ${ran.code}): ` +
      (ran.stderr.trim() || ran.stdout.trim()).split("\n").slice(-6).join("\n")
  })

/** Runs the CLI and fails unless it exits 0; returns its stdout. */
export const runOk = (
  endpoint: Endpoint,
  args: ReadonlyArray<string>,
  options: { readonly stdin?: string; readonly timeoutMs?: number; readonly env?: Record<string, string> } = {}
): Effect.Effect<string, DockerError> =>
  Effect.flatMap(run(endpoint, args, options), (ran) => (ran.code === 0 ? Effect.succeed(ran.stdout) : Effect.fail(failure(endpoint, args, ran))))

/** Checks that the endpoint's daemon answers (and that we may talk to it), before anything is made. */
export const ping = (endpoint: Endpoint): Effect.Effect<void, DockerError> =>
  Effect.flatMap(run(endpoint, ["version", "--format", "{{.Server.Version}}"], { timeoutMs: 30_000 }), (ran) =>
    ran.code === 0 && ran.stdout.trim() !== ""
      ? Effect.void
      : Effect.fail(new DockerError({
        endpoint: endpoint.id,
        reason: classify(ran.stderr) ?? "no-daemon",
        detail: `the Docker daemon does not answer: ${ran.stderr.trim().split("\n").slice(-3).join(" ")}`
      })))

/**
 * A context endpoint, with where it points filled in (`docker context inspect`): its containers are reached at
 * their address when it is a local engine, else through ports published on its host.
 */
export const resolve = (endpoint: Endpoint): Effect.Effect<Endpoint, DockerError> => {
  if (endpoint.flags[0] !== "--context") return Effect.succeed(endpoint)
  const name = endpoint.flags[1]!
  const args = ["context", "inspect", "--format", "{{.Endpoints.docker.Host}}", name]
  return Effect.flatMap(run({ ...endpoint, flags: [] }, args, { timeoutMs: 30_000 }), (ran) => {
    const target = ran.code === 0 ? parseEndpoint(ran.stdout.trim()) : undefined
    if (target === undefined || typeof target === "string") {
      return Effect.fail(new DockerError({
        endpoint: endpoint.id,
        reason: "invalid-options",
        detail: `docker context ${JSON.stringify(name)} cannot be read: ${(ran.stderr.trim() || ran.stdout.trim()).split("\n")[0]}`
      }))
    }
    return Effect.succeed({ ...endpoint, local: target.local, host: target.host })
  })
}

