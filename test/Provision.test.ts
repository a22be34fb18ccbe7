import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as LocalAccount from "../src/LocalAccount.js"
import * as Provision from "../src/Provision.js"

const account = LocalAccount.make({ hostname: "prov", workdir: NodePath.join(NodeOs.tmpdir(), "ducktape-provision-test") })

describe("Provision", () => {
  it.scopedLive("leaves a node that has everything alone, and says exactly what to install when it may not", () =>
    Effect.gen(function*() {
      const node = yield* account
      expect(yield* Provision.ensurePackages(node, ["coreutils", "bash"])).toEqual([])
      expect(yield* Provision.missingPackages(node, ["coreutils", "no-such-package-xyz"])).toEqual(["no-such-package-xyz"])
      const error = yield* Effect.flip(Provision.ensurePackages(node, ["bash", "no-such-package-xyz"], { install: false }))
      expect(error.message).toBe(
        "prov is missing no-such-package-xyz: not installed\n  fix: on prov run " +
          "`apt-get install -y --no-install-recommends no-such-package-xyz` (as root)"
      )
    }))

  it.scopedLive("installs a missing package as root, once: a second call finds nothing to do", () =>
    Effect.gen(function*() {
      const node = yield* account
      // GNU hello: a tiny real package from Debian; installed for real the first time this runs on a machine.
      const first = yield* Provision.ensurePackages(node, ["hello"])
      expect(first.length === 0 || first[0] === "hello").toBe(true)
      expect(yield* node.sshOutput("hello")).toBe("Hello, world!\n")
      expect(yield* Provision.ensurePackages(node, ["hello"])).toEqual([])
    }), 600_000)
})
