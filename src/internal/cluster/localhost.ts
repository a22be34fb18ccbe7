/** The built-in localhost cluster: N local accounts, each with its own working directory and loopback address. */
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect, Layer } from "effect"
import type * as C from "../../Cluster.js"
import { ClusterConfigError } from "./errors.js"
import { Cluster } from "./tag.js"
import * as LocalAccount from "../../LocalAccount.js"
import { makePool, nodesOf } from "./pool.js"

/** Loopback address of localhost node i (1-based): 127.0.0.11, .12, … continuing into 127.0.1.x. */
const loopbackAddress = (i: number) => {
  const n = 10 + i
  return `127.0.${Math.floor(n / 256)}.${n % 256}`
}

/** The most localhost nodes: one loopback address each below 127.1.0.0. */
const maxLocalhostNodes = 256 * 256 - 11

/** @internal */
export const localhost = (options: C.LocalhostOptions): Layer.Layer<C.Cluster, ClusterConfigError> =>
  Layer.scoped(
    Cluster,
    Effect.gen(function*() {
      if (!Number.isInteger(options.numNodes) || options.numNodes < 1 || options.numNodes > maxLocalhostNodes) {
        return yield* Effect.fail(
          new ClusterConfigError({
            source: `localhost:${options.numNodes}`,
            problem: "the number of localhost nodes must be a whole number from 1 to " + maxLocalhostNodes,
            fix: "pass e.g. --cluster localhost:3"
          })
        )
      }
      const root = options.root ?? (yield* Effect.acquireRelease(
        Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), `ducktape-localhost-${process.pid}-`))),
        (dir) => options.keep === true ? Effect.void : Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true })).pipe(Effect.ignore)
      ))
      const accounts = yield* Effect.forEach(
        Array.from({ length: options.numNodes }, (_, k) => k + 1),
        (i) =>
          LocalAccount.make({
            hostname: `worker${i}`,
            workdir: NodePath.join(root, `worker${i}`),
            address: loopbackAddress(i)
          }),
        { concurrency: 16 }
      )
      return yield* makePool(nodesOf(accounts.map((account) => ({ account, nodeType: undefined }))))
    })
  )
