/**
 * Both sides of SSH authentication, prepared when an account is made: the methods this side logs in with, and the
 * check of the key the server presents. They are prepared up front so that a bad key file fails `make`, by name,
 * rather than the first connection; the target host and each jump host use the same two.
 */
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect, Option, Redacted } from "effect"
import ssh2 from "ssh2"
import type { AuthMethod } from "ssh2"
import type * as SA from "../../../SshAccount.js"
import type { ConnectionFailure, RemoteConnectionError } from "../errors.js"
import * as KnownHosts from "./knownHosts.js"

const expandHome = (path: string) => (path.startsWith("~/") ? NodePath.join(NodeOs.homedir(), path.slice(2)) : path)

const readIfExists = (path: string) =>
  Effect.promise(() => NodeFs.readFile(expandHome(path)).then((b) => Option.some(b), () => Option.none<Buffer>()))

/** The authentication methods to offer, in order: identity files, the given key, the agent, the password. */
export const authMethods = (
  options: SA.SshAccountOptions,
  user: string,
  connectionError: (reason: ConnectionFailure, detail: string, cause?: unknown) => RemoteConnectionError
) =>
  Effect.gen(function*() {
    const methods: Array<AuthMethod> = []
    const passphrase = options.passphrase === undefined ? undefined : Redacted.value(options.passphrase)
    const addKey = (key: Buffer, source: string) => {
      const parsed = ssh2.utils.parseKey(key, passphrase)
      if (parsed instanceof Error) {
        // The parser's error never holds the key itself (its message and stack only), so it can go along as cause.
        return Effect.fail(connectionError("auth", `cannot use the private key ${source}: ${parsed.message}`, parsed))
      }
      methods.push({ type: "publickey", username: user, key, ...(passphrase === undefined ? {} : { passphrase }) } as AuthMethod)
      return Effect.void
    }
    const explicit = options.identityFile !== undefined || options.privateKey !== undefined ||
      options.password !== undefined || (options.agent !== undefined && options.agent !== false)
    const files = options.identityFile === undefined
      ? []
      : typeof options.identityFile === "string"
      ? [options.identityFile]
      : options.identityFile
    for (const file of files) {
      const key = yield* readIfExists(file)
      if (Option.isNone(key)) return yield* Effect.fail(connectionError("auth", `cannot read the identity file ${file}`))
      yield* addKey(key.value, file)
    }
    if (options.privateKey !== undefined) yield* addKey(Buffer.from(Redacted.value(options.privateKey)), "given as privateKey")
    const agent = typeof options.agent === "string"
      ? options.agent
      : options.agent === true || !explicit
      ? process.env.SSH_AUTH_SOCK
      : undefined
    if (agent !== undefined && agent !== "") methods.push({ type: "agent", username: user, agent } as AuthMethod)
    if (!explicit) {
      for (const name of ["id_ed25519", "id_ecdsa", "id_rsa"]) {
        const key = yield* readIfExists(NodePath.join(NodeOs.homedir(), ".ssh", name))
        // A default key we cannot use (say, encrypted) is skipped, as ssh does.
        if (Option.isSome(key) && !(ssh2.utils.parseKey(key.value, passphrase) instanceof Error)) {
          methods.push({ type: "publickey", username: user, key: key.value } as AuthMethod)
        }
      }
    }
    if (options.password !== undefined) {
      methods.push({ type: "password", username: user, password: Redacted.value(options.password) } as AuthMethod)
    }
    if (methods.length === 0) {
      return yield* Effect.fail(connectionError("auth", "no identity file, key, agent or password to log in with"))
    }
    return methods
  })

/** Why a presented host key is refused: a host missing from known_hosts and a changed key need different fixes. */
export interface HostKeyProblem {
  readonly reason: "host-key" | "unknown-host"
  readonly detail: string
}

/** A function telling why a presented host key is not acceptable (undefined: it is). */
export const hostKeyChecker = (options: SA.SshAccountOptions, host: string, port: number) =>
  Effect.gen(function*() {
    if (options.strictHostKeyChecking === false) return (_key: Buffer): HostKeyProblem | undefined => undefined
    if (options.hostKey !== undefined) {
      const expected = KnownHosts.keyBlob(options.hostKey)
      return (key: Buffer): HostKeyProblem | undefined =>
        key.equals(expected) ? undefined : {
          reason: "host-key",
          detail: `the host presented key ${KnownHosts.fingerprint(key)}, expected ${KnownHosts.fingerprint(expected)}`
        }
    }
    const file = expandHome(options.knownHosts ?? "~/.ssh/known_hosts")
    const text = yield* Effect.promise(() => NodeFs.readFile(file, "utf8").catch(() => ""))
    const entries = KnownHosts.parse(text)
    return (key: Buffer): HostKeyProblem | undefined => {
      const verdict = KnownHosts.verify(entries, host, port, key)
      switch (verdict._tag) {
        case "Known":
          return undefined
        case "Unknown":
          return {
            reason: "unknown-host",
            detail: `${KnownHosts.lookupName(host, port)} is not in ${file} (its key is ${KnownHosts.fingerprint(key)})`
          }
        case "Mismatch":
          return {
            reason: "host-key",
            detail: `the host key of ${KnownHosts.lookupName(host, port)} changed: it presented ${KnownHosts.fingerprint(key)}, ` +
              `which does not match ${file}`
          }
        case "Revoked":
          return { reason: "host-key", detail: `the host key ${KnownHosts.fingerprint(key)} is marked @revoked in ${file}` }
      }
    }
  })
