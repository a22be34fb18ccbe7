/**
 * A private sshd on 127.0.0.1 for one test file, and ssh-backed accounts on it.
 *
 * Everything lives in a fresh temp directory named after our pid, so that test files (and other people's runs on
 * the same machine) never share a server, a port or a key.
 */
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { RemoteAccount } from "../../src/RemoteAccount.js"
import type { RemoteConnectionError } from "../../src/RemoteAccount.js"
import * as SshAccount from "../../src/SshAccount.js"
import * as Sshd from "../../src/Sshd.js"

/** A running private sshd plus what a client needs to log in to it. */
export interface SshdFixture {
  readonly sshd: Sshd.SshdHandle
  /** The client's key pair (authorized on the server). */
  readonly clientKey: Sshd.KeyPair
  /** A known_hosts file holding the server's key. */
  readonly knownHosts: string
  /** The directory everything lives in (removed when the scope closes). */
  readonly dir: string
  /** Options for `SshAccount.make` that log in to this server as the current user, workdir `dir/work`. */
  readonly accountOptions: SshAccount.SshAccountOptions
}

/** The fixture's Tag, for tests that need the server itself (restart it, look at its log). */
export class SshdFixtureTag extends Context.Tag("test/SshdFixture")<SshdFixtureTag, SshdFixture>() {}

/**
 * Starts a private sshd with a fresh client key (and, if given, more environment for its commands); the scope
 * stops it and removes its directory.
 */
export const startWith = (options: { readonly env?: Readonly<Record<string, string>> }): Effect.Effect<SshdFixture, Sshd.SshdError, Scope.Scope> => Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), `dt-sshd-${process.pid}-`))),
    (d) => Effect.promise(() => NodeFs.rm(d, { recursive: true, force: true })).pipe(Effect.timeout("10 seconds"), Effect.ignore)
  )
  const clientKey = yield* Sshd.generateKeyPair(NodePath.join(dir, "client", "id_ed25519"))
  const sshd = yield* Sshd.start({
    address: "127.0.0.1",
    dir: NodePath.join(dir, "sshd"),
    authorizedKeys: [clientKey.publicKey],
    ...(options.env === undefined ? {} : { env: options.env }),
    // A test worker killed mid-run must not leave its server running on this shared machine.
    dieWithParent: true
  })
  const knownHosts = NodePath.join(dir, "client", "known_hosts")
  yield* Effect.promise(() => NodeFs.writeFile(knownHosts, sshd.knownHostsLine + "\n"))
  const workdir = NodePath.join(dir, "work")
  yield* Effect.promise(() => NodeFs.mkdir(workdir, { recursive: true }))
  return {
    sshd,
    clientKey,
    knownHosts,
    dir,
    accountOptions: {
      hostname: "sshd-test",
      sshHostname: "127.0.0.1",
      port: sshd.port,
      user: NodeOs.userInfo().username,
      identityFile: clientKey.privateKeyPath,
      knownHosts,
      workdir
    }
  }
})

/** A private sshd with a fresh client key; the scope stops it and removes its directory. */
export const start: Effect.Effect<SshdFixture, Sshd.SshdError, Scope.Scope> = startWith({})

/** An ssh account on the fixture's server (with overrides, e.g. a wrong key). */
export const account = (
  fixture: SshdFixture,
  overrides: Partial<SshAccount.SshAccountOptions> = {}
): Effect.Effect<RemoteAccount, RemoteConnectionError, Scope.Scope> => SshAccount.make({ ...fixture.accountOptions, ...overrides })

/** The fixture and an account on it, as a Layer for `layer(...)` of @effect/vitest. */
export const layer: Layer.Layer<SshdFixtureTag | RemoteAccount, Sshd.SshdError | RemoteConnectionError> = Layer
  .scopedContext(
    Effect.gen(function*() {
      const fixture = yield* start
      const remote = yield* account(fixture)
      return Context.make(SshdFixtureTag, fixture).pipe(Context.add(RemoteAccount, remote))
    })
  )
