/**
 * Provisioning: make sure the packages a service needs are on a node. Debian/apt first.
 *
 * Per node and idempotent: a node that has everything is left alone (one `dpkg-query`); a node missing something
 * gets it installed when we may (root and apt-get present), under a machine-wide lock so that nodes sharing one
 * machine (localhost nodes, lab namespaces) install once; otherwise the error says exactly what to install.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Effect, Schema } from "effect"
import type { CommandError, RemoteAccount } from "./RemoteAccount.js"
import * as Shell from "./Shell.js"

/**
 * Packages are missing on a node and could not be installed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProvisionError extends Schema.TaggedError<ProvisionError>()("ProvisionError", {
  host: Schema.String,
  packages: Schema.Array(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.host} is missing ${this.packages.join(", ")}: ${this.reason}\n  fix: on ${this.host} run ` +
      `\`apt-get install -y --no-install-recommends ${this.packages.join(" ")}\` (as root)`
  }
}

/**
 * How to provision.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProvisionOptions {
  /** Install what is missing when possible (default true); false only checks. */
  readonly install?: boolean
  /** Upper bound on one install (default 10 minutes). */
  readonly timeout?: Duration.DurationInput
}

/** The lock every installer on a machine takes (apt's own lock fails instead of waiting). */
const lockFile = "/var/lock/ducktape-effect-apt.lock"

/**
 * The packages of `packages` that are not installed on the node.
 *
 * @since 0.1.0
 * @category utils
 */
export const missingPackages = (
  account: RemoteAccount,
  packages: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>, CommandError> =>
  packages.length === 0
    ? Effect.succeed<ReadonlyArray<string>>([])
    : account.sshOutput(
      `for p in ${Shell.join(packages)}; do ` +
        `dpkg-query -W -f='\${db:Status-Status}\\n' "$p" 2>/dev/null | grep -qx installed || echo "$p"; done`
    ).pipe(Effect.map((out) => out.split("\n").map((l) => l.trim()).filter((l) => l !== "")))

/**
 * Ensures the packages are installed on the node; returns the ones it installed.
 *
 * @since 0.1.0
 * @category utils
 */
export const ensurePackages = (
  account: RemoteAccount,
  packages: ReadonlyArray<string>,
  options: ProvisionOptions = {}
): Effect.Effect<ReadonlyArray<string>, ProvisionError> =>
  Effect.gen(function*() {
    const fail = (missing: ReadonlyArray<string>, reason: string) =>
      Effect.fail(new ProvisionError({ host: account.hostname, packages: [...missing], reason }))
    const missing = yield* missingPackages(account, packages).pipe(
      Effect.catchAll((e) => fail(packages, `cannot check packages (is this a Debian-like system?): ${e.message}`))
    )
    if (missing.length === 0) return []
    if (options.install === false) return yield* fail(missing, "not installed")
    const able = yield* account.exec("test \"$(id -u)\" = 0 && command -v apt-get && command -v flock").pipe(
      Effect.map((r) => r.exitCode === 0),
      Effect.orElseSucceed(() => false)
    )
    if (!able) return yield* fail(missing, "not installed, and this account cannot install them (needs root, apt-get and flock)")
    yield* Effect.logInfo(`installing ${missing.join(" ")} on ${account.hostname}`)
    // Under the lock: re-check (another node may have installed them meanwhile), install, and refresh the
    // package lists only when apt does not know a package (a fresh machine has none).
    const install = `DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${Shell.join(missing)}`
    const script = `set -e; need=""; for p in ${Shell.join(missing)}; do ` +
      `dpkg-query -W -f='\${db:Status-Status}\\n' "$p" 2>/dev/null | grep -qx installed || need="$need $p"; done; ` +
      `[ -z "$need" ] && exit 0; ${install} || { apt-get update -q && ${install}; }`
    const result = yield* account.exec(["flock", lockFile, "sh", "-c", script], { timeout: options.timeout ?? "10 minutes", mergeStderr: true }).pipe(
      Effect.catchAll((e) => fail(missing, e.message))
    )
    if (result.exitCode !== 0) {
      return yield* fail(missing, `apt-get failed (exit ${result.exitCode}): ${result.stdout.trim().split("\n").slice(-5).join(" | ")}`)
    }
    const still = yield* missingPackages(account, missing).pipe(Effect.orElseSucceed(() => missing))
    if (still.length > 0) return yield* fail(still, "apt-get finished but they are still not installed")
    return missing
  }).pipe(Effect.withSpan("Provision.ensurePackages", { attributes: { host: account.hostname, packages: packages.join(" ") } }))
