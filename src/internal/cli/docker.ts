/** `ducktape docker up` and `ducktape docker down`, and the Docker part of `ducktape clean`. */
import * as NodePath from "node:path"
import { Effect, Option } from "effect"
import * as Docker from "../../Docker.js"
import { UsageError } from "./errors.js"

const asUsage = (e: { readonly message: string }) => {
  const [problem, fix] = e.message.split("\n  fix: ")
  return new UsageError({ problem: problem ?? e.message, fix: fix ?? "" })
}

/** The Docker engines named by `--endpoint`, else by DUCKTAPE_DOCKER_ENDPOINTS (else the default engine). */
const endpointsOf = (given: ReadonlyArray<string>): ReadonlyArray<string> =>
  given.length > 0 ? given : (process.env["DUCKTAPE_DOCKER_ENDPOINTS"] ?? "").split(",").map((e) => e.trim()).filter((e) => e !== "")

/** Starts a docker cluster that stays up, and says how to use it and take it down. */
export const up = (o: {
  readonly nodes: string
  readonly name: string
  readonly dir: string
  readonly endpoint: ReadonlyArray<string>
  readonly image: Option.Option<string>
  readonly packages: ReadonlyArray<string>
}) =>
  Effect.gen(function*() {
    const parsed = Docker.parseClusterFlag(`docker:${o.nodes}`)
    if (Option.isNone(parsed) || typeof parsed.value === "string") {
      return yield* new UsageError({ problem: `--nodes ${o.nodes} is not N or N,TYPE=N`, fix: "pass e.g. --nodes 3 or --nodes 2,large=1" })
    }
    const endpoints = endpointsOf(o.endpoint)
    const cluster = yield* Docker.up({
      ...parsed.value,
      name: o.name,
      dir: NodePath.resolve(o.dir),
      ...(endpoints.length === 0 ? {} : { endpoints }),
      ...(Option.isSome(o.image) ? { image: o.image.value } : {}),
      ...(o.packages.length === 0 ? {} : { packages: o.packages })
    }).pipe(Effect.mapError(asUsage))
    yield* Effect.sync(() => {
      process.stdout.write(`docker cluster ${cluster.name} is up: ${cluster.nodes.map((n) => `${n.name}=${n.address}`).join(" ")}\n`)
      process.stdout.write(`cluster file: ${cluster.clusterFile}\nrun tests on it: npx ducktape --cluster-file ${NodePath.relative(process.cwd(), cluster.clusterFile)} <paths>\n`)
      process.stdout.write(`take it down: npx ducktape docker down --dir ${o.dir}\n`)
    })
  })

/** Removes what `docker up` made. */
export const down = (o: { readonly name: Option.Option<string>; readonly dir: string; readonly endpoint: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    const endpoints = endpointsOf(o.endpoint)
    const summary = yield* Docker.down({
      dir: NodePath.resolve(o.dir),
      ...(Option.isSome(o.name) ? { name: o.name.value } : {}),
      ...(endpoints.length === 0 ? {} : { endpoints })
    }).pipe(Effect.mapError(asUsage))
    yield* Effect.sync(() =>
      process.stdout.write(`docker cluster ${summary.name} is down: removed ${summary.containers} containers, ${summary.networks} networks\n`)
    )
  })

/**
 * `ducktape clean`'s Docker part: containers, networks and volumes of dead sessions. Unless a docker cluster was
 * named (`asked`), an engine that is not there (or an ssh:// one that cannot be reached) is no error: the runs may
 * never have used Docker.
 */
export const clean = (dryRun: boolean, asked: boolean) =>
  Effect.gen(function*() {
    const endpoints = endpointsOf([])
    const result = yield* Effect.either(Docker.clean({ dryRun, ...(endpoints.length === 0 ? {} : { endpoints }) }))
    if (result._tag === "Left") {
      if (asked || !["no-daemon", "missing-tool", "ssh-failed"].includes(result.left.reason)) return yield* asUsage(result.left)
      return 0
    }
    const found = result.right
    yield* Effect.sync(() => {
      if (found.length > 0) {
        process.stdout.write(`${Docker.describeLeftovers(found)}\n${dryRun ? `${found.length} docker leftovers found (dry run: nothing removed)` : `removed ${found.length} docker leftovers`}\n`)
      } else if (asked) process.stdout.write("no docker leftovers found\n")
    })
    return found.length
  })
