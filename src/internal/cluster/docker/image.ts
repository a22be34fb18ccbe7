/**
 * The default node image, built from Debian's packages (there may be no registry to pull from): `mmdebstrap` makes a
 * root filesystem, `docker import` turns it into an image, a small `docker build` layer readies sshd. Every image
 * is tagged by a hash of its recipe, so a later run (or another endpoint's check) finds it and starts in seconds.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect } from "effect"
import { findExecutable, pathDirectories } from "../../shared/executables.js"
import * as Engine from "./engine.js"
import { DockerError } from "./errors.js"

/** The packages of the default image: sshd and the tools RemoteAccount, Clean and network faults use. */
export const basePackages = [
  "openssh-server",
  "iproute2",
  "procps",
  "iptables",
  "tar",
  "util-linux",
  "ca-certificates",
  "curl"
] as const

const suite = "bookworm"

/** The Debian mirror this machine's apt uses (deb822 `URIs:` or a one-line `deb` entry). */
export const debianMirror = (): string => {
  const files = ["/etc/apt/sources.list", ...safeList("/etc/apt/sources.list.d").map((f) => `/etc/apt/sources.list.d/${f}`)]
    .filter((f) => /\.(list|sources)$/.test(f) || f === "/etc/apt/sources.list")
  for (const f of files) {
    const text = safeRead(f)
    const deb822 = /^URIs:\s*(\S+)/m.exec(text)
    if (deb822?.[1] !== undefined && !/security/.test(deb822[1])) return deb822[1]
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/m.exec(text)
    if (line?.[1] !== undefined && !/security/.test(line[1])) return line[1]
  }
  return "http://deb.debian.org/debian"
}

const safeList = (dir: string) => {
  try {
    return NodeFs.readdirSync(dir).sort()
  } catch {
    return []
  }
}
const safeRead = (f: string) => {
  try {
    return NodeFs.readFileSync(f, "utf8")
  } catch {
    return ""
  }
}

const baseDockerfile = (from: string) =>
  [
    `FROM ${from}`,
    // Host keys are made per container when it starts (a node's own key); none are baked into the image.
    "RUN rm -f /etc/ssh/ssh_host_* && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh",
    `CMD ["/usr/sbin/sshd", "-D", "-e"]`,
    ""
  ].join("\n")

/**
 * The default image from a Debian image instead of a root filesystem of our own: the same packages installed by
 * apt, then the same sshd layer.
 */
const fromBaseDockerfile = (from: string) =>
  [
    `FROM ${from}`,
    `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${basePackages.join(" ")} && rm -rf /var/lib/apt/lists/*`,
    ...baseDockerfile(from).split("\n").slice(1)
  ].join("\n")

/** The base where mmdebstrap is not installed (macOS with Docker Desktop, say): Debian's own, from the registry. */
export const registryBase = `debian:${suite}-slim`

/**
 * How the default image is made: from a root filesystem mmdebstrap makes here from this machine's Debian mirror,
 * or, given a base image or without mmdebstrap, from a Debian image by `docker build`.
 */
export const baseRecipe = (baseImage: string | undefined, mmdebstrap: string | undefined): { readonly from: string } | "mmdebstrap" =>
  baseImage !== undefined ? { from: baseImage } : mmdebstrap === undefined ? { from: registryBase } : "mmdebstrap"

const derivedDockerfile = (from: string, packages: ReadonlyArray<string>) =>
  [
    `FROM ${from}`,
    `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(" ")} && rm -rf /var/lib/apt/lists/*`,
    ""
  ].join("\n")

const hash = (value: unknown) => Crypto.createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 12)

/** The tag of the default image for this recipe (it changes whenever the recipe does). */
export const baseTag = (mirror: string = debianMirror()): string =>
  `ducktape-node:${hash({ v: 1, suite, mirror, packages: basePackages, dockerfile: baseDockerfile("ROOTFS") })}`

/** The tag of the default image with `packages` baked in. */
export const derivedTag = (base: string, packages: ReadonlyArray<string>): string =>
  `${base}-${hash({ v: 1, packages: [...new Set(packages)].sort() })}`

const packageName = /^[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?$/

export const exists = (endpoint: Engine.Endpoint, tag: string): Effect.Effect<boolean, DockerError> =>
  Effect.flatMap(Engine.run(endpoint, ["image", "inspect", "--format", "{{.Id}}", tag], { timeoutMs: 30_000 }), (ran) => {
    if (ran.code === 0) return Effect.succeed(true)
    const reason = Engine.classify(ran.stderr)
    return reason === undefined || reason === "image-not-found" ? Effect.succeed(false) : Effect.fail(Engine.failure(endpoint, ["image", "inspect"], ran))
  })

// Named with the driver's pid: what a killed driver left here (a root filesystem tarball of a few hundred MB) is
// found by `ducktape clean` (Clean.cleanLocalScratch).
const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `ducktape-image-${process.pid}-`))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * Runs `$@` in this shell's process group and ends the whole group within about a second of the driver's death (its
 * pid, `$1`, gone): a SIGKILLed driver must not leave an mmdebstrap building for minutes. TERM is ignored by the
 * watchdog itself only after the tool has started, so that the tool keeps the default.
 */
const watchdog = [
  "driver=$1; shift",
  `"$@" & tool=$!`,
  "trap '' TERM",
  `while kill -0 "$tool" 2>/dev/null; do`,
  `  kill -0 "$driver" 2>/dev/null || { kill -TERM 0; sleep 2; kill -KILL 0; }`,
  "  sleep 1",
  "done",
  `wait "$tool"`
].join("\n")

/**
 * Runs a local tool (mmdebstrap), its output kept for the error message. It runs in a process group of its own
 * under a watchdog (above): an interruption or timeout kills the group, and so does the driver's death.
 */
export const runLocal = (endpoint: Engine.Endpoint, argv: ReadonlyArray<string>, timeoutMs: number) =>
  Effect.async<void, DockerError>((resume) => {
    const child = ChildProcess.spawn("/bin/sh", ["-c", watchdog, "sh", String(process.pid), ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
      detached: true
    })
    const killGroup = () => {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // Already gone.
      }
    }
    let out = ""
    const keep = (d: Buffer) => (out = (out + d.toString("utf8")).slice(-8000))
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    const timer = setTimeout(killGroup, timeoutMs)
    child.on("error", (e) => {
      clearTimeout(timer)
      resume(Effect.fail(new DockerError({
        endpoint: endpoint.id,
        reason: "missing-tool",
        detail: `cannot run /bin/sh for ${argv[0]}: ${e.message}`
      })))
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      // 127: the shell found no such tool.
      if (code === 127 && /not found/.test(out)) {
        return resume(Effect.fail(new DockerError({
          endpoint: endpoint.id,
          reason: "missing-tool",
          detail: `cannot run ${argv[0]}: not found (the default image is built with mmdebstrap: apt-get install -y mmdebstrap)`
        })))
      }
      resume(
        code === 0 ? Effect.void : Effect.fail(new DockerError({
          endpoint: endpoint.id,
          reason: Engine.classify(out) ?? "image-build-failed",
          detail: `${NodePath.basename(argv[0]!)} failed (exit ${code}):\n${out.trim().split("\n").slice(-10).join("\n")}`
        }))
      )
    })
    return Effect.sync(killGroup)
  })

const build = (endpoint: Engine.Endpoint, tag: string, dockerfile: string) =>
  Effect.scoped(Effect.gen(function*() {
    const dir = yield* tempDir
    NodeFs.writeFileSync(NodePath.join(dir, "Dockerfile"), dockerfile)
    // The legacy builder (no buildx needed); host networking so apt reaches the mirror on engines without a bridge.
    const args = ["build", "--network", "host", "--label", "ducktape.image=1", "-t", tag, dir]
    yield* Engine.run(endpoint, args, { timeoutMs: 20 * 60_000, env: { DOCKER_BUILDKIT: "0" } }).pipe(
      Effect.flatMap((ran) => ran.code === 0 ? Effect.void : Effect.fail(Engine.failure(endpoint, args, ran, "image-build-failed")))
    )
  }))

/** The default image built from a Debian image (see baseRecipe); tagged by the base and the recipe. */
const ensureFromImage = (endpoint: Engine.Endpoint, from: string, given: boolean): Effect.Effect<string, DockerError> =>
  Effect.gen(function*() {
    const tag = `ducktape-node:${hash({ v: 1, from, dockerfile: fromBaseDockerfile(from) })}`
    if (yield* exists(endpoint, tag)) return tag
    yield* Effect.logInfo(`building the default node image ${tag} from ${from} (once; later runs reuse it)`)
    yield* build(endpoint, tag, fromBaseDockerfile(from)).pipe(
      Effect.mapError((e) =>
        e.reason === "disk-full" ? e : new DockerError({
          endpoint: e.endpoint,
          reason: "no-base-image",
          detail: `could not build the node image from ${from}${
            given ? " (the base image you gave)" : " (mmdebstrap, which builds it from this machine's Debian mirror, is not installed)"
          }: ${e.detail}`
        })
      )
    )
    return tag
  })

/**
 * The default image on an endpoint, built if missing: mmdebstrap (locally), `docker import`, `docker build`; or,
 * from `baseImage` or where mmdebstrap is not installed, a `docker build` from a Debian image (baseRecipe).
 * Two runs building at once both succeed: the tag just points at whichever finished last.
 */
export const ensureBase = (endpoint: Engine.Endpoint, baseImage?: string): Effect.Effect<string, DockerError> =>
  Effect.gen(function*() {
    const recipe = baseRecipe(baseImage, findExecutable("mmdebstrap", pathDirectories()))
    if (recipe !== "mmdebstrap") return yield* ensureFromImage(endpoint, recipe.from, baseImage !== undefined)
    const mirror = debianMirror()
    const tag = baseTag(mirror)
    if (yield* exists(endpoint, tag)) return tag
    yield* Effect.logInfo(`building the default node image ${tag} from ${mirror} (once; later runs reuse it)`)
    const rootfsTag = tag.replace(/^ducktape-node:/, "ducktape-node-rootfs:")
    if (!(yield* exists(endpoint, rootfsTag))) {
      yield* Effect.scoped(Effect.gen(function*() {
        const dir = yield* tempDir
        const tar = NodePath.join(dir, "rootfs.tar")
        yield* runLocal(endpoint, [
          "mmdebstrap",
          "--quiet",
          "--variant=minbase",
          `--include=${basePackages.join(",")}`,
          suite,
          tar,
          mirror
        ], 20 * 60_000)
        const args = ["import", "--change", `LABEL ducktape.image=1`, tar, rootfsTag]
        yield* Engine.run(endpoint, args, { timeoutMs: 10 * 60_000 }).pipe(
          Effect.flatMap((ran) => ran.code === 0 ? Effect.void : Effect.fail(Engine.failure(endpoint, args, ran, "image-build-failed")))
        )
      }))
    }
    yield* build(endpoint, tag, baseDockerfile(rootfsTag))
    return tag
  }).pipe(Effect.withSpan("Docker.ensureBaseImage"))

/** `from` with Debian packages baked in, built if missing; tagged by the package list. */
export const ensureDerived = (
  endpoint: Engine.Endpoint,
  from: string,
  packages: ReadonlyArray<string>
): Effect.Effect<string, DockerError> =>
  Effect.gen(function*() {
    const bad = packages.filter((p) => !packageName.test(p))
    if (bad.length > 0) {
      return yield* Effect.fail(new DockerError({
        endpoint: endpoint.id,
        reason: "invalid-options",
        detail: `not Debian package names: ${bad.map((b) => JSON.stringify(b)).join(", ")}`
      }))
    }
    const tag = derivedTag(from.includes(":") ? from : `${from}:latest`, packages)
    if (yield* exists(endpoint, tag)) return tag
    yield* Effect.logInfo(`baking ${packages.join(" ")} into ${tag}`)
    yield* build(endpoint, tag, derivedDockerfile(from, [...new Set(packages)].sort()))
    return tag
  })
