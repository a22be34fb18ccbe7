/**
 * A lab of real hosts (network namespaces) for one test, in a temp directory of its own that also holds what the
 * test writes beside it (results, say). The scope takes the lab down, then removes the directory.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { Scope } from "effect"
import { Effect } from "effect"
import * as Lab from "../../src/Lab.js"

/** `prefix` (2 letters) and our pid name the lab, so that concurrent test files never meet. */
export const scopedLab = (prefix: string, nodes: number): Effect.Effect<{ readonly lab: Lab.Lab; readonly root: string }, Lab.LabError, Scope.Scope> =>
  Effect.gen(function*() {
    const name = `${prefix}${process.pid.toString(36)}`.slice(0, 8)
    // Removed last, after the lab is down (finalizers run in reverse order).
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-lab-${name}-`))),
      (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
    )
    const lab = yield* Lab.scoped({ nodes, name, dir: NodePath.join(root, "lab") })
    return { lab, root }
  })
