/**
 * ZooKeeper from vitest: an example suite's own test and a body written here, each run by the runner on its own
 * localhost cluster (services, teardown, logs and data.json as under `ducktape run`).
 * vitest only collects test/**: test/examples.vitest.test.ts imports this file.
 */
import { Effect } from "effect"
import { describe } from "vitest"
import { Cluster, Test } from "ducktape-effect"
import { systemTest } from "ducktape-effect/vitest"
import { ZooKeeperTest } from "../zookeeper.ducktape.js"
import { mode, ZooKeeper } from "../zookeeper/ZooKeeper.js"

describe("ZooKeeper from vitest", () => {
  // Both cases of the matrix (1 and 3 servers), exactly as the CLI runs them.
  systemTest("serves through any node", { cluster: Cluster.localhost({ numNodes: 3 }) }, ZooKeeperTest.tests.servesThroughAnyNode!)

  systemTest("a single server is standalone", { cluster: Cluster.localhost({ numNodes: 1 }) }, () =>
    Effect.gen(function*() {
      const zk = yield* ZooKeeper.start({ numNodes: 1 })
      const role = yield* mode(zk.node(1), zk.node(1))
      yield* Test.checkEqual(role, "standalone", "mode")
      return { role }
    }))
})
