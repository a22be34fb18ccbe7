/**
 * Before any test: make sure the real components the tests use are installed on this machine (sshd, iptables,
 * iproute2, ZooKeeper, Redis, Chromium, xmllint), with the framework's own provisioning, so that `npm test` passes on a
 * fresh machine after `npm ci`. Without root or apt, it fails with the exact command to run.
 */
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect } from "effect"
import * as LocalAccount from "../../src/LocalAccount.js"
import * as Provision from "../../src/Provision.js"
import * as Dockerd from "../support/dockerd.js"

/** Debian packages our tests need. */
export const testPackages = [
  "openssh-server",
  "openssh-client",
  "iptables",
  "iproute2",
  "util-linux",
  "zookeeper",
  "redis-server",
  "chromium",
  "libxml2-utils",
  // test/Docker.test.ts: a private dockerd, and the default node image built from Debian packages.
  "docker.io",
  "mmdebstrap"
]

export default async function setup(): Promise<() => void> {
  const installed = await Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        LocalAccount.make({ hostname: "localhost", workdir: NodePath.join(NodeOs.tmpdir(), "ducktape-test-setup") }),
        (account) => Provision.ensurePackages(account, testPackages, { timeout: "20 minutes" })
      )
    ).pipe(Effect.catchAll((e) => Effect.die(new Error(e.message))))
  )
  if (installed.length > 0) process.stdout.write(`test setup installed: ${installed.join(" ")}\n`)
  // vitest ends its workers with a signal, before the afterAll hooks of suites whose tests were all filtered out: a
  // private dockerd such a worker started (test/support/dockerd.ts) is stopped here, the host put back, before
  // `vitest run` returns.
  return () => {
    const restored = Dockerd.restoreOrphans()
    if (restored.length > 0) process.stdout.write(`test teardown stopped ${restored.length} private dockerd left by ended workers\n`)
  }
}
