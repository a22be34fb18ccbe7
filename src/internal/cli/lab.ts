/** `ducktape lab up` and `ducktape lab down`. */
import * as NodePath from "node:path"
import { Effect } from "effect"
import * as Lab from "../../Lab.js"
import { UsageError } from "./errors.js"

const asUsage = (e: { readonly message: string }) => new UsageError({ problem: e.message, fix: "" })

/** Creates a lab and says how to use it and take it down. */
export const up = (o: { readonly nodes: number; readonly name: string; readonly dir: string }) =>
  Effect.gen(function*() {
    const lab = yield* Lab.up({ nodes: o.nodes, name: o.name, dir: NodePath.resolve(o.dir) }).pipe(Effect.mapError(asUsage))
    yield* Effect.sync(() => {
      process.stdout.write(`lab ${lab.name} is up: ${lab.nodes.map((n) => `${n.name}=${n.address}`).join(" ")}\n`)
      process.stdout.write(`cluster file: ${lab.clusterFile}\nrun tests on it: npx ducktape --cluster-file ${NodePath.relative(process.cwd(), lab.clusterFile)} <paths>\n`)
      process.stdout.write(`take it down: npx ducktape lab down --name ${lab.name} --dir ${o.dir}\n`)
    })
  })

/** Removes what a lab made. */
export const down = (o: { readonly name: string; readonly dir: string }) =>
  Effect.gen(function*() {
    const summary = yield* Lab.down({ name: o.name, dir: NodePath.resolve(o.dir) }).pipe(Effect.mapError(asUsage))
    yield* Effect.sync(() =>
      process.stdout.write(
        `lab ${summary.name} is down: removed ${summary.namespaces.length} namespaces, ${summary.links.length} links, ` +
          `${summary.processes} processes, ${summary.iptablesRules} iptables rules\n`
      )
    )
  })
