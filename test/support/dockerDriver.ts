/**
 * A driver that makes a docker cluster and waits forever, for the test that SIGKILLs it: run it as
 * `node --import tsx test/support/dockerDriver.ts <name> <endpoint>`; it prints `UP <nodes>` once the cluster is up.
 */
import { Effect } from "effect"
import * as Docker from "../../src/Docker.js"

const [name, endpoint] = process.argv.slice(2)
Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const c = yield* Docker.scoped({ nodes: 2, name: name!, endpoints: [endpoint!] })
  process.stdout.write(`UP ${c.nodes.length}\n`)
  yield* Effect.never
}))).catch((e) => {
  process.stderr.write(`${String(e)}\n`)
  process.exit(1)
})
