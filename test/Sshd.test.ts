import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Sshd from "../src/Sshd.js"

describe("Sshd", () => {
  it.scoped("a directory it cannot make fails as an io SshdError that names the path and carries the file system's error", () =>
    Effect.gen(function*() {
      const base = yield* Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), "dt-sshd-")))
      yield* Effect.addFinalizer(() => Effect.promise(() => NodeFs.rm(base, { recursive: true, force: true })))
      // A regular file where the server's directory should go: mkdir fails with ENOTDIR/EEXIST, as root too.
      const blocker = NodePath.join(base, "not-a-dir")
      yield* Effect.promise(() => NodeFs.writeFile(blocker, "x"))
      const exit = yield* Effect.exit(Sshd.start({ address: "127.0.0.1", dir: NodePath.join(blocker, "sshd"), authorizedKeys: [] }))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isSuccess(exit)) return
      const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(error?._tag).toBe("SshdError")
      expect(error?.reason).toBe("io")
      expect(error?.message).toContain(`cannot create ${NodePath.join(blocker, "sshd")}`)
      expect(error?.message).toMatch(/ENOTDIR|EEXIST/)
      // The lower-level error is kept for whoever needs more than the message.
      expect(error?.cause).toMatchObject({ _tag: "SystemError", module: "FileSystem", method: "makeDirectory" })
    }))
})
