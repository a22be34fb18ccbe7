/**
 * Every RemoteAccount backend, as Layers of the `RemoteAccount` Tag, so that one contract suite runs against each.
 */
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as LocalAccount from "../../src/LocalAccount.js"
import { RemoteAccount } from "../../src/RemoteAccount.js"
import * as SshdSupport from "./sshd.js"

/** A temp directory (named after our pid) that the scope removes. */
export const tempDir = (label: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), `dt-${label}-${process.pid}-`))),
    (dir) => Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true })).pipe(Effect.timeout("10 seconds"), Effect.ignore)
  )

/** A local-process account with its own temp workdir. */
export const localAccount = (label: string) =>
  Effect.flatMap(tempDir(label), (workdir) => LocalAccount.make({ hostname: `local-${label}`, workdir }))

/** The local backend. */
export const local: Layer.Layer<RemoteAccount> = Layer.scoped(RemoteAccount, localAccount("local"))

/** The ssh2 backend against a private sshd on 127.0.0.1. */
export const ssh: Layer.Layer<RemoteAccount, unknown> = SshdSupport.layer

/** Both, by name. */
export const all: ReadonlyArray<readonly [name: string, layer: Layer.Layer<RemoteAccount, unknown>]> = [
  ["local", local],
  ["ssh2", ssh]
]
