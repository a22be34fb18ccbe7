/**
 * The RemoteAccount contract: one suite, run against every backend (local processes; ssh2 against a private
 * sshd), so that a test written against one behaves the same on the other. Then what only SSH can do wrong.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as Net from "node:net"
import * as NodePath from "node:path"
import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Effect, Fiber, Ref, Schedule, Stream } from "effect"
import * as Cluster from "../src/Cluster.js"
import { RemoteAccount } from "../src/RemoteAccount.js"
import * as Shell from "../src/Shell.js"
import * as Sshd from "../src/Sshd.js"
import * as Wait from "../src/Wait.js"
import * as Backends from "./support/backends.js"
import * as SshdSupport from "./support/sshd.js"

const MiB = 1024 * 1024

/** A fresh directory in the node's workdir for one test, so tests never see each other's files. */
let dirCounter = 0
const scratch = (a: RemoteAccount) =>
  Effect.gen(function*() {
    const dir = a.resolve(`t${process.pid}-${++dirCounter}`)
    yield* a.mkdirs(dir)
    return dir
  })

const sha256 = (bytes: Uint8Array) => Crypto.createHash("sha256").update(bytes).digest("hex")
const sha256File = (path: string) => Effect.promise(() => NodeFs.readFile(path).then(sha256))
const remoteSha256 = (a: RemoteAccount, path: string) =>
  Effect.map(a.sshOutput(["sha256sum", "--", path]), (out) => out.split(" ")[0])

/** Waits (briefly: the kill already happened) until a pid is gone; fails the test otherwise. */
const gone = (a: RemoteAccount, pid: number) =>
  Wait.waitUntil(Effect.map(a.alive(pid), (alive) => !alive), {
    timeout: "5 seconds",
    backoff: "20 millis",
    errMsg: `process ${pid} is still alive`
  })

/** Waits (up to 5 s) until no process runs `sleep <marker>`: what the test started was stopped. */
const noSleepLeft = (a: RemoteAccount, marker: string) =>
  Wait.waitUntil(Effect.map(a.pids(`sleep ${marker}`), (found) => found.length === 0), {
    timeout: "5 seconds",
    backoff: "50 millis",
    errMsg: `sleep ${marker} was left running`
  })

/** Runs `n` commands at once (each sleeps, then echoes its number) and checks every one answered, in order. */
const expectAllAtOnce = (a: RemoteAccount, n: number, sleep: string) =>
  Effect.map(
    Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => a.sshOutput(`sleep ${sleep}; echo ${i}`), { concurrency: "unbounded" }),
    (outputs) => expect(outputs).toEqual(Array.from({ length: n }, (_, i) => `${i}\n`))
  )

/** A file of random bytes. */
const randomFile = (path: string, size: number) =>
  Effect.promise(async () => {
    const handle = await NodeFs.open(path, "w")
    try {
      for (let written = 0; written < size; written += 4 * MiB) {
        await handle.write(Crypto.randomBytes(Math.min(4 * MiB, size - written)))
      }
    } finally {
      await handle.close()
    }
  })

/** A small tree with nesting, an empty directory and an executable; returns its path. */
const writeTree = (parent: string) =>
  Effect.promise(async () => {
    const tree = NodePath.join(parent, "tree")
    await NodeFs.mkdir(NodePath.join(tree, "a", "b"), { recursive: true })
    await NodeFs.mkdir(NodePath.join(tree, "empty"), { recursive: true })
    await NodeFs.writeFile(NodePath.join(tree, "top.txt"), "top")
    await NodeFs.writeFile(NodePath.join(tree, "a", "mid.txt"), "mid")
    await NodeFs.writeFile(NodePath.join(tree, "a", "b", "deep.txt"), "deep")
    await NodeFs.writeFile(NodePath.join(tree, "a", "b", "run.sh"), "#!/bin/sh\necho ran\n", { mode: 0o755 })
    return tree
  })

/** Checks that a local directory holds what `writeTree` wrote, executable bit included. */
const expectTreeAt = (dir: string) =>
  Effect.promise(async () => {
    expect([...await NodeFs.readdir(dir, { recursive: true })].sort()).toEqual(
      ["a", "a/b", "a/b/deep.txt", "a/b/run.sh", "a/mid.txt", "empty", "top.txt"]
    )
    expect(await NodeFs.readFile(NodePath.join(dir, "a", "mid.txt"), "utf8")).toBe("mid")
    expect((await NodeFs.stat(NodePath.join(dir, "a", "b", "run.sh"))).mode & 0o111).toBe(0o111)
  })

// Values a shell would mangle if a single one of them were spliced in unquoted.
const nasty = [
  "plain",
  "two words",
  "it's",
  "\"double\"",
  "$HOME",
  "${PATH}",
  "`id`",
  "$(id)",
  "; echo pwned",
  "a|b&c>d<e",
  "back\\slash",
  "*",
  "?",
  "~",
  "",
  " leading and trailing ",
  "tab\there",
  "-n",
  "--",
  "ünïcødé ✓",
  "!bang"
]

for (const [name, backendLayer] of Backends.all) {
  layer(backendLayer, { excludeTestServices: true, timeout: "30 seconds" })(`RemoteAccount contract (${name})`, (it) => {
    it.effect("reports exit codes, a death by signal as 128+N, and fails ssh on non-zero", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        expect((yield* a.exec("exit 3")).exitCode).toBe(3)
        expect((yield* a.exec("true")).exitCode).toBe(0)
        expect((yield* a.exec("kill -9 $$")).exitCode).toBe(137)
        yield* a.ssh("true")
        const error = yield* Effect.flip(a.ssh("echo oops >&2; exit 5"))
        expect(error._tag).toBe("RemoteCommandError")
        if (error._tag !== "RemoteCommandError") return
        expect(error.exitCode).toBe(5)
        expect(error.stderr).toContain("oops")
        expect(error.message).toContain("exited with status 5")
        // The cause of a failure followed by a usage text is on the message's first line (a terminal's summary).
        const usage = yield* Effect.flip(a.ssh("echo 'flag provided but not defined: -x' >&2; for i in 1 2 3 4 5; do echo \"  -opt$i   an option\" >&2; done; exit 2"))
        expect(usage.message.split("\n")[0]).toContain("flag provided but not defined: -x")
      }))

    it.effect("separates stdout and stderr", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const r = yield* a.exec("echo out; echo err >&2; echo out2")
        expect(r).toEqual({ exitCode: 0, stdout: "out\nout2\n", stderr: "err\n" })
        expect(yield* a.sshOutput("printf 'no newline'")).toBe("no newline")
        expect(yield* a.sshOutput("true")).toBe("")
      }))

    it.effect("carries large output and binary bytes intact", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        // 20 MiB of text through exec.
        const text = yield* a.sshOutput("yes 0123456789abcdef | head -c 20971520")
        expect(text.length).toBe(20 * MiB)
        expect(text.slice(0, 17)).toBe("0123456789abcdef\n")
        // 21 MiB of random bytes through a process's stdout stream, checked against the remote checksum.
        const file = NodePath.posix.join(dir, "random.bin")
        yield* a.ssh(["sh", "-c", `head -c ${21 * MiB} /dev/urandom > "$1"`, "sh", file])
        const bytes = yield* Effect.scoped(
          Effect.flatMap(a.startProcess(["cat", file]), (p) =>
            Stream.runFold(p.stdout, Crypto.createHash("sha256"), (h, chunk) => h.update(chunk)))
        )
        expect(bytes.digest("hex")).toBe(yield* remoteSha256(a, file))
        // Every byte value, through stdin and back through stdout.
        const all = new Uint8Array(256 * 4).map((_, i) => i % 256)
        const echoed = yield* Effect.scoped(
          Effect.flatMap(a.startProcess("cat", { stdin: all }), (p) => Stream.runCollect(p.stdout))
        )
        expect(Buffer.concat(Chunk.toArray(echoed))).toEqual(Buffer.from(all))
      }))

    it.effect("applies env, cwd, stdin and mergeStderr", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        expect(yield* a.sshOutput("printf '%s|%s' \"$FOO\" \"$BAR\"", { env: { FOO: "a b'c $x", BAR: "" } })).toBe("a b'c $x|")
        yield* a.mkdirs(NodePath.posix.join(dir, "sub dir"))
        expect((yield* a.sshOutput("pwd", { cwd: NodePath.posix.join(dir, "sub dir") })).trim()).toBe(
          NodePath.posix.join(dir, "sub dir")
        )
        // The default cwd is the workdir; relative paths resolve against it.
        expect((yield* a.sshOutput("pwd")).trim()).toBe(a.workdir)
        expect(yield* a.sshOutput("cat", { stdin: "line one\nline two" })).toBe("line one\nline two")
        // Without stdin a command reading it sees its end at once instead of hanging.
        expect(yield* a.sshOutput("cat; echo done")).toBe("done\n")
        const merged = yield* a.exec("echo a; sleep 0.05; echo b >&2; sleep 0.05; echo c", { mergeStderr: true })
        expect(merged.stdout).toBe("a\nb\nc\n")
        expect(merged.stderr).toBe("")
      }))

    it.effect("quotes argv words so that nasty strings arrive as they were", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const out = yield* a.sshOutput(["printf", "[%s]\\n", ...nasty])
        expect(out).toBe(nasty.map((s) => `[${s}]\n`).join(""))
        // The same through a nested shell line, built with the quoting helper.
        const line = `printf '[%s]\\n' ${Shell.join(nasty)}`
        expect(yield* a.sshOutput(["sh", "-c", line])).toBe(out)
        const dir = yield* scratch(a)
        const odd = NodePath.posix.join(dir, "it's a $file; `x`")
        yield* a.createFile(odd, "content")
        expect(yield* a.sshOutput(["cat", odd])).toBe("content")
      }))

    it.effect("runs 40 commands at once (more than sshd's MaxSessions) and all succeed", () =>
      Effect.gen(function*() {
        yield* expectAllAtOnce(yield* RemoteAccount, 40, "0.2")
      }))

    it.effect("kills the remote process group when sshCapture is interrupted", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        // The first line is the pid of the command's shell, the second that of a child in its group.
        const lines = yield* a.sshCapture("sleep 30 & echo $$; echo $!; wait").pipe(
          Stream.take(2),
          Stream.runCollect,
          Effect.map(Chunk.toArray)
        )
        const [leader, child] = lines.map(Number)
        yield* gone(a, leader!)
        yield* gone(a, child!)
        // Interrupting the fiber that consumes it works the same way.
        const pidRef = yield* Ref.make(0)
        const fiber = yield* a.sshCapture("echo $$; exec sleep 30").pipe(
          Stream.runForEach((l) => Ref.set(pidRef, Number(l))),
          Effect.fork
        )
        yield* Wait.waitUntil(Effect.map(Ref.get(pidRef), (p) => p > 0), { timeout: "10 seconds", backoff: "10 millis" })
        yield* Fiber.interrupt(fiber)
        yield* gone(a, yield* Ref.get(pidRef))
      }))

    it.effect("startProcess: closing the scope kills the whole process group, children included", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const [leader, child] = yield* Effect.scoped(
          Effect.gen(function*() {
            const p = yield* a.startProcess("sleep 30 & echo $!; wait")
            const first = yield* p.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.take(1), Stream.runCollect)
            const childPid = Number(Chunk.unsafeHead(first))
            expect(yield* a.alive(p.pid)).toBe(true)
            expect(yield* a.alive(childPid)).toBe(true)
            return [p.pid, childPid] as const
          })
        )
        expect(yield* a.alive(leader)).toBe(false)
        yield* gone(a, child)
      }))

    it.effect("startProcess streams output as it comes and reports the exit code", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const r = yield* Effect.scoped(
          Effect.gen(function*() {
            const p = yield* a.startProcess("echo one; echo warn >&2; echo two; exit 4")
            const out = yield* p.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect)
            const code = yield* p.exitCode
            const err = yield* p.stderr.pipe(Stream.decodeText(), Stream.runCollect)
            return { out: Chunk.toArray(out), code, err: Chunk.toArray(err).join(""), tail: yield* p.stderrTail }
          })
        )
        expect(r).toEqual({ out: ["one", "two"], code: 4, err: "warn\n", tail: "warn\n" })
      }))

    it.effect("a command timeout fails with RemoteCommandTimeout and kills the process", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const pidFile = NodePath.posix.join(dir, "pid")
        const error = yield* Effect.flip(a.exec(`echo $$ > ${Shell.quote(pidFile)}; exec sleep 30`, { timeout: "500 millis" }))
        expect(error._tag).toBe("RemoteCommandTimeout")
        expect(error.message).toContain("did not finish within")
        yield* gone(a, Number((yield* a.readFile(pidFile)).trim()))
        // The same for a stream.
        const captureError = yield* Effect.flip(
          Stream.runDrain(a.sshCapture(`echo $$ > ${Shell.quote(pidFile)}; exec sleep 30`, { timeout: "500 millis" }))
        )
        expect(captureError._tag).toBe("RemoteCommandTimeout")
        yield* gone(a, Number((yield* a.readFile(pidFile)).trim()))
      }))

    // Over ssh the timeout can land while the channel is still opening: the command starts all the same.
    it.effect("a timeout that fires before the command reported its pid still stops the command", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        for (let i = 0; i < 5; i++) {
          // A sleep whose command line no other process on the machine has.
          const marker = `31.${process.pid}${i}`
          const error = yield* Effect.flip(a.exec(["sleep", marker], { timeout: "1 millis" }))
          expect(error._tag).toBe("RemoteCommandTimeout")
          yield* noSleepLeft(a, marker)
          // The same for a process started in a scope that is interrupted as it starts.
          const started = `32.${process.pid}${i}`
          yield* Effect.scoped(a.startProcess(["sleep", started])).pipe(Effect.timeout("1 millis"), Effect.ignore)
          yield* noSleepLeft(a, started)
        }
      }))

    it.effect("spawnDaemon: the daemon outlives the call, its pid file names it, its group stops it; an interrupted start leaves nothing", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const marker = `33.${process.pid}`
        const pid = yield* a.spawnDaemon(["sleep", marker], { pidFile: NodePath.posix.join(dir, "daemon.pid") })
        expect(yield* a.alive(pid)).toBe(true)
        expect((yield* a.readFile(NodePath.posix.join(dir, "daemon.pid"))).trim()).toBe(String(pid))
        yield* a.killProcessGroup(pid, { grace: "2 seconds" })
        yield* gone(a, pid)
        for (let i = 0; i < 3; i++) {
          const started = `34.${process.pid}${i}`
          yield* a.spawnDaemon(["sleep", started]).pipe(Effect.timeout("1 millis"), Effect.ignore)
          yield* noSleepLeft(a, started)
        }
      }))

    it.scoped("waitForHttp waits for a server that comes up late, and names the URL and answer when none is right", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const port = yield* unusedPort
        const waiting = yield* Effect.fork(a.waitForHttp(port, { path: "/health", timeout: "20 seconds" }))
        const server = `setTimeout(() => require("http").createServer((q, r) => { r.statusCode = q.url === "/health" ? 200 : 404; r.end() })` +
          `.listen(${port}, ${JSON.stringify(a.externallyRoutableIp)}), 700)`
        yield* a.startProcess([process.execPath, "-e", server])
        yield* Fiber.join(waiting)
        const error = yield* Effect.flip(a.waitForHttp(port, { path: "/missing", timeout: "1 second" }))
        expect(error.message).toContain(`nothing answered http://${a.externallyRoutableIp}:${port}/missing with a 2xx status`)
        expect(error.lastError).toBe("status 404")
      }))

    it.effect("a command or daemon that ignores TERM is still stopped (KILL after the grace), and nothing waits on it", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const stubborn = `35.${process.pid}`
        const error = yield* Effect.flip(a.exec(`trap '' TERM; exec sleep ${stubborn}`, { timeout: "500 millis" }))
        expect(error._tag).toBe("RemoteCommandTimeout")
        yield* noSleepLeft(a, stubborn)
        const daemon = `36.${process.pid}`
        yield* a.spawnDaemon(`trap '' TERM; exec sleep ${daemon}`).pipe(Effect.timeout("1 millis"), Effect.ignore)
        yield* noSleepLeft(a, daemon)
      }), 30_000)

    it.effect("finds processes by pattern and kills them", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        // A sleep whose command line no other process on the machine has.
        const marker = `29.${process.pid}${Date.now() % 100000}`
        yield* Effect.scoped(
          Effect.gen(function*() {
            const p = yield* a.startProcess(["sleep", marker])
            const found = yield* a.pids(`sleep ${marker}`)
            expect(found).toContain(p.pid)
            const killed = yield* a.killProcess(`sleep ${marker}`)
            expect(killed).toContain(p.pid)
            expect(yield* p.exitCode).toBe(128 + 15)
            expect(yield* a.pids(`sleep ${marker}`)).toEqual([])
          })
        )
        expect(yield* a.killProcess(`sleep ${marker}`)).toEqual([])
      }))

    it.scoped("writes and reads files; a missing path is a RemoteFileError", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const path = NodePath.posix.join(dir, "hello.txt")
        yield* a.createFile(path, "héllo\nwörld\n")
        expect(yield* a.readFile(path)).toBe("héllo\nwörld\n")
        expect(yield* a.sshOutput(["cat", path])).toBe("héllo\nwörld\n")
        yield* a.createFile(path, "replaced")
        expect(yield* a.readFile(path)).toBe("replaced")
        const missing = yield* Effect.flip(a.readFile(NodePath.posix.join(dir, "missing")))
        expect(missing._tag).toBe("RemoteFileError")
        const local = yield* Backends.tempDir("copy-missing")
        const copyMissing = yield* Effect.flip(a.copyFrom(NodePath.posix.join(dir, "missing"), NodePath.join(local, "x")))
        expect(copyMissing._tag).toBe("RemoteFileError")
        const writeMissing = yield* Effect.flip(a.createFile(NodePath.posix.join(dir, "no", "such", "dir"), "x"))
        expect(writeMissing._tag).toBe("RemoteFileError")
        // The lower error it was made from travels as `cause`, for a caller who needs its code; the message is as before.
        const sendMissing = yield* Effect.flip(a.copyTo(NodePath.join(local, "missing"), NodePath.posix.join(dir, "sent")))
        expect(sendMissing.message).toBe(`${a.hostname}:${NodePath.join(local, "missing")}: local path ${NodePath.join(local, "missing")} does not exist`)
        expect(sendMissing.cause).toMatchObject({ code: "ENOENT" })
        const removeMissing = yield* Effect.flip(a.remove(NodePath.posix.join(dir, "missing")))
        expect(removeMissing._tag).toBe("RemoteCommandError")
        yield* a.remove(NodePath.posix.join(dir, "missing"), { force: true })
      }))

    it.scoped("copies a 100 MiB file both ways intact", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const local = yield* Backends.tempDir("copy-big")
        const source = NodePath.join(local, "big.bin")
        yield* randomFile(source, 100 * MiB)
        const expected = yield* sha256File(source)
        const remote = NodePath.posix.join(dir, "big.bin")
        yield* a.copyTo(source, remote)
        expect(yield* remoteSha256(a, remote)).toBe(expected)
        const back = NodePath.join(local, "back.bin")
        yield* a.copyFrom(remote, back)
        expect(yield* sha256File(back)).toBe(expected)
      }), { timeout: 60_000 })

    it.scoped("copies directories recursively both ways", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const local = yield* Backends.tempDir("copy-tree")
        const tree = yield* writeTree(local)
        const remote = NodePath.posix.join(dir, "tree")
        yield* a.copyTo(tree, remote)
        const listing = yield* a.sshOutput(`cd ${Shell.quote(remote)} && find . | LC_ALL=C sort`)
        expect(listing.trim().split("\n")).toEqual([
          ".",
          "./a",
          "./a/b",
          "./a/b/deep.txt",
          "./a/b/run.sh",
          "./a/mid.txt",
          "./empty",
          "./top.txt"
        ])
        expect(yield* a.readFile(NodePath.posix.join(remote, "a", "b", "deep.txt"))).toBe("deep")
        // The executable bit travels with the file.
        expect(yield* a.sshOutput([NodePath.posix.join(remote, "a", "b", "run.sh")])).toBe("ran\n")
        const back = NodePath.join(local, "back")
        yield* a.copyFrom(remote, back)
        yield* expectTreeAt(back)
      }))

    it.scoped("copying into an existing directory leaves that directory's mode alone", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const target = yield* scratch(a)
        // Like /tmp: sticky and open to all. A copy into it must not make it the source's 0700.
        yield* a.ssh(["chmod", "1777", target])
        const local = yield* Backends.tempDir("copy-into-dir")
        const tree = yield* writeTree(local)
        yield* Effect.promise(() => NodeFs.chmod(tree, 0o700))
        yield* a.copyTo(tree, target)
        expect((yield* a.sshOutput(["stat", "-c", "%a", target])).trim()).toBe("1777")
        expect(yield* a.readFile(NodePath.posix.join(target, "a", "mid.txt"))).toBe("mid")
      }))

    it.scoped("copies a directory back while a file in it grows (a live log)", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const log = NodePath.posix.join(dir, "server.log")
        yield* a.createFile(NodePath.posix.join(dir, "done.txt"), "done")
        yield* a.startProcess(["sh", "-c", "while :; do echo 'a line of the log' >> \"$0\"; done", log])
        yield* Wait.waitUntil(a.isFile(log), { timeout: "5 seconds", backoff: "10 millis", errMsg: "the log was never written" })
        const back = NodePath.join(yield* Backends.tempDir("copy-live"), "logs")
        for (let i = 0; i < 3; i++) yield* a.copyFrom(dir, back)
        expect(yield* Effect.promise(() => NodeFs.readFile(NodePath.join(back, "done.txt"), "utf8"))).toBe("done")
        expect((yield* Effect.promise(() => NodeFs.readFile(NodePath.join(back, "server.log"), "utf8"))).length).toBeGreaterThan(0)
      }))

    it.scoped("copying a tree onto a file fails, naming the target", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const tree = yield* writeTree(yield* Backends.tempDir("copy-onto-file"))
        const target = NodePath.posix.join(dir, "taken")
        yield* a.createFile(target, "a file")
        const error = yield* Effect.flip(a.copyTo(tree, target))
        expect(error._tag).toBe("RemoteFileError")
        expect(error.message).toContain(target)
        expect(yield* a.readFile(target)).toBe("a file")
      }))

    it.effect("tells files, directories and links apart", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const p = (name: string) => NodePath.posix.join(dir, name)
        yield* a.createFile(p("file"), "x")
        yield* a.mkdirs(p("dir"))
        yield* a.ssh(["ln", "-s", p("file"), p("link")])
        yield* a.ssh(["ln", "-s", p("nowhere"), p("dangling")])
        const probe = (name: string) =>
          Effect.all([a.exists(p(name)), a.isFile(p(name)), a.isDir(p(name)), a.isLink(p(name))])
        expect(yield* probe("file")).toEqual([true, true, false, false])
        expect(yield* probe("dir")).toEqual([true, false, true, false])
        // A link to a file is a file and a link; a dangling link exists but is neither file nor directory.
        expect(yield* probe("link")).toEqual([true, true, false, true])
        expect(yield* probe("dangling")).toEqual([true, false, false, true])
        expect(yield* probe("missing")).toEqual([false, false, false, false])
        expect(yield* a.exists(p("file/below"))).toBe(false)
      }))

    it.scoped("copies between nodes", () =>
      Effect.gen(function*() {
        const a = yield* RemoteAccount
        const dir = yield* scratch(a)
        const other = yield* Backends.localAccount("copy-between")
        yield* a.createFile(NodePath.posix.join(dir, "src", "f.txt"), "between").pipe(
          Effect.catchAll(() => Effect.zipRight(a.mkdirs(NodePath.posix.join(dir, "src")), a.createFile(NodePath.posix.join(dir, "src", "f.txt"), "between")))
        )
        yield* a.copyBetween(NodePath.posix.join(dir, "src"), other, "dst")
        expect(yield* other.readFile("dst/f.txt")).toBe("between")
        // And back, into this node.
        yield* other.copyBetween("dst/f.txt", a, NodePath.posix.join(dir, "returned.txt"))
        expect(yield* a.readFile(NodePath.posix.join(dir, "returned.txt"))).toBe("between")
      }))
  })
}

// ---------------------------------------------------------------------------------------------------------
// What only an SSH connection can get wrong
// ---------------------------------------------------------------------------------------------------------

/** A port nothing listens on (the kernel just gave it out and took it back). */
const unusedPort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A TCP server on 127.0.0.1 that hands each connection to `onConnection`; the scope closes it. */
const listening = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<Net.Server>((resume) => {
      const server = Net.createServer(onConnection)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      }).pipe(Effect.timeout("2 seconds"), Effect.ignore)
  ).pipe(Effect.map((server) => {
    const address = server.address()
    return typeof address === "object" && address !== null ? address.port : 0
  }))

layer(SshdSupport.layer, { excludeTestServices: true, timeout: "30 seconds" })("SshAccount", (it) => {

  it.scoped("waiting for a log line on a node that went away says so, and keeps to its time limit", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.start
      // Quick keepalives: a server killed outright is noticed by their silence.
      const a = yield* SshdSupport.account(fixture, { connectTimeout: "1 second", keepaliveInterval: "200 millis" })
      const monitor = yield* a.monitorLog("server.log")
      // Long enough for the tail's own release to give up on the dead node (10 s) and the monitor to re-open.
      const waiting = yield* Effect.fork(Effect.flip(monitor.waitUntil("ready", { timeout: "13 seconds" })))
      // Its line stream, too, gives up on a node that stays away (here after 1 s, rather than the default 2 minutes).
      const following = yield* Effect.flatMap(a.monitorLog("server.log", { reconnectFor: "1 second" }), (m) =>
        Effect.fork(Effect.flip(Stream.runDrain(m.lines))))
      yield* Effect.sleep("300 millis")
      const started = Date.now()
      yield* fixture.sshd.stop
      const error = yield* Fiber.join(waiting)
      expect(error._tag).toBe("LogMonitorTimeout")
      expect(error.message).toMatch(/nothing was read from it\n  reading it failed: .*(refused|closed|dropped)/)
      // The time limit, plus at most the 2 s it gives its tail to stop.
      expect(Date.now() - started).toBeLessThan(18_000)
      const lost = yield* Fiber.join(following)
      expect(lost._tag).toBe("RemoteConnectionError")
      // 1 s of re-opening, each attempt itself reconnecting for up to 15 s, plus the dead tail's release (10 s).
      expect(Date.now() - started).toBeLessThan(45_000)
    }), { timeout: 60_000 })

  it.scoped("an sshd without an SFTP subsystem is refused at connect, saying so", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.start
      // The same server, configured without its `Subsystem sftp` line, on a port of its own.
      const config = (yield* Effect.promise(() => NodeFs.readFile(NodePath.join(fixture.dir, "sshd", "sshd_config"), "utf8")))
        .split("\n").filter((l) => !l.startsWith("Subsystem ") && !l.startsWith("ListenAddress ") && !l.startsWith("PidFile ")).join("\n")
      const port = yield* Effect.promise(() => new Promise<number>((resolve) => {
        const server = Net.createServer()
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          server.close(() => resolve(port))
        })
      }))
      const configFile = NodePath.join(fixture.dir, "nosftp_config")
      const pidFile = NodePath.join(fixture.dir, "nosftp.pid")
      yield* Effect.promise(() => NodeFs.writeFile(configFile, `${config}\nListenAddress 127.0.0.1:${port}\nPidFile ${pidFile}\n`))
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve, reject) =>
          ChildProcess.execFile("/usr/sbin/sshd", ["-f", configFile, "-E", NodePath.join(fixture.dir, "nosftp.log")], (e) => (e ? reject(e) : resolve()))
        )),
        () => Effect.promise(() => NodeFs.readFile(pidFile, "utf8").then((pid) => process.kill(Number(pid), "SIGTERM"), () => {})).pipe(Effect.ignore)
      )
      // sshd forks into the background before it listens; it writes its pid file once it does.
      yield* Effect.tryPromise(() => NodeFs.readFile(pidFile, "utf8")).pipe(
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds")))
      )
      const error = yield* Effect.flip(SshdSupport.account(fixture, { port, strictHostKeyChecking: false }))
      expect(error._tag).toBe("RemoteConnectionError")
      expect(error.message).toMatch(/SFTP/)
      expect(error.message).toContain("Subsystem sftp")
      expect(error.message).not.toContain("rebooted")
    }))

  it.scoped("a node reached through a loopback port (as Vagrant's are) says where others reach it", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const o = fixture.accountOptions
      // A workdir that does not exist yet: the health check makes it (commands start in it, so making it must not).
      const workdir = NodePath.join(fixture.dir, "fresh", "workdir")
      const file = NodePath.join(fixture.dir, "forwarded.json")
      yield* Effect.promise(() =>
        NodeFs.writeFile(file, JSON.stringify({
          workdir,
          nodes: [{ ssh_config: { host: "vm1", hostname: "127.0.0.1", port: o.port, user: o.user, identityfile: o.identityFile, userknownhostsfile: o.knownHosts } }]
        }))
      )
      const node = yield* Effect.map(Cluster.Cluster, (c) => c.all[0]!).pipe(Effect.provide(Cluster.fromFile(file)))
      expect(yield* Effect.promise(() => NodeFs.stat(workdir).then((s) => s.isDirectory()))).toBe(true)
      // This machine's own addresses (the sshd runs here): eth1's, else the last global IPv4 one, else loopback.
      const global = Object.entries(NodeOs.networkInterfaces())
        .filter(([name]) => !/^(docker|br-|virbr|veth|cni|flannel|cali|lxc|dt[0-9]?-)/.test(name))
        .flatMap(([name, addresses]) => (addresses ?? []).filter((a) => a.family === "IPv4" && !a.internal).map((a) => ({ name, address: a.address })))
      const expected = global.find((a) => a.name === "eth1")?.address ?? global.at(-1)?.address ?? "127.0.0.1"
      expect(node.account.externallyRoutableIp).toBe(expected)
      expect(node.account.sshHostname).toBe("127.0.0.1")
    }))

  it.scoped("long-running processes that hold every channel do not starve other commands", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      // Room for 2 channels at first: 3 processes that run until the scope ends, then a short command.
      const a = yield* SshdSupport.account(fixture, { maxConnections: 1, maxChannelsPerConnection: 2 })
      const sleepers = yield* Effect.forEach([1, 2, 3], () => a.startProcess(["sleep", "600"]))
      expect(yield* a.sshOutput(["echo", "still served"])).toBe("still served\n")
      for (const p of sleepers) expect(yield* a.alive(p.pid)).toBe(true)
    }), { timeout: 20_000 })

  it.scoped("trees still copy, file by file, where the remote has no tar", () =>
    Effect.gen(function*() {
      // A PATH where the remote shell finds no tar: the tar stream cannot start, SFTP needs no command.
      const fixture = yield* SshdSupport.startWith({ env: { PATH: "/nonexistent" } })
      const local = yield* Backends.tempDir("no-remote-tar")
      const remote = NodePath.posix.join(fixture.accountOptions.workdir!, "tree")
      const tree = yield* writeTree(local)
      // A fresh account for each direction: an account asks about tar once, at its first tree.
      yield* Effect.scoped(Effect.flatMap(SshdSupport.account(fixture), (a) => a.copyTo(tree, remote)))
      const a = yield* SshdSupport.account(fixture)
      expect(yield* a.readFile(NodePath.posix.join(remote, "a", "b", "deep.txt"))).toBe("deep")
      expect(yield* a.isDir(NodePath.posix.join(remote, "empty"))).toBe(true)
      const back = NodePath.join(local, "back")
      yield* a.copyFrom(remote, back)
      yield* expectTreeAt(back)
    }), { timeout: 20_000 })

  it.scoped("trees still copy, file by file, where this machine has no tar", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const local = yield* Backends.tempDir("no-local-tar")
      const tree = yield* writeTree(local)
      const remote = NodePath.posix.join(yield* scratch(yield* RemoteAccount), "tree")
      const back = NodePath.join(local, "back")
      // No tar on this machine's PATH while the accounts first copy a tree (each asks once, then remembers).
      const path = process.env.PATH
      yield* Effect.acquireRelease(
        Effect.sync(() => (process.env.PATH = "/nonexistent")),
        () => Effect.sync(() => (process.env.PATH = path))
      )
      yield* Effect.scoped(Effect.flatMap(SshdSupport.account(fixture), (a) => a.copyTo(tree, remote)))
      yield* Effect.scoped(Effect.flatMap(SshdSupport.account(fixture), (a) => a.copyFrom(remote, back)))
      yield* expectTreeAt(back)
    }))

  it.effect("a refused connection fails fast with reason refused", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const port = yield* unusedPort
      // A long connect timeout: only a refusal recognised as such (no retry, no wait) ends this in time.
      const error = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { port, connectTimeout: "60 seconds" })))
      expect(error.reason).toBe("refused")
      expect(error.message).toContain("is sshd running")
      // The socket's own error goes along, for a caller who needs its code.
      expect(error._tag === "RemoteConnectionError" && error.cause).toMatchObject({ code: "ECONNREFUSED" })
    }), { timeout: 10_000 })

  it.scoped("a server that never speaks SSH fails with reason timeout; one that hangs up, with reason closed", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const sockets = new Set<Net.Socket>()
      const silent = yield* listening((socket) => sockets.add(socket))
      const timeout = yield* Effect.flip(
        Effect.scoped(SshdSupport.account(fixture, { port: silent, connectTimeout: "500 millis" }))
      )
      expect(timeout.reason).toBe("timeout")
      for (const s of sockets) s.destroy()
      const rude = yield* listening((socket) => socket.destroy())
      const closed = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { port: rude })))
      expect(closed.reason).toBe("closed")
    }))

  it.scoped("a key the server does not know fails with reason auth", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const stranger = yield* Backends.tempDir("stranger")
      const other = yield* Sshd.generateKeyPair(NodePath.join(stranger, "id"))
      const error = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { identityFile: other.privateKeyPath })))
      expect(error.reason).toBe("auth")
      // An unreadable key file is an auth error that names the file, never its contents.
      const missing = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { identityFile: NodePath.join(stranger, "nope") })))
      expect(missing.reason).toBe("auth")
      expect(missing.message).toContain(NodePath.join(stranger, "nope"))
    }))

  it.scoped("an unexpected host key fails with reason host-key (unknown-host if not listed) unless checking is off", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const dir = yield* Backends.tempDir("hostkey")
      const impostor = yield* Sshd.generateKeyPair(NodePath.join(dir, "impostor"))
      const keyFields = impostor.publicKey.split(" ").slice(0, 2).join(" ")
      const wrongKnownHosts = NodePath.join(dir, "known_hosts")
      yield* Effect.promise(() => NodeFs.writeFile(wrongKnownHosts, `[127.0.0.1]:${fixture.sshd.port} ${keyFields}\n`))
      const mismatch = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { knownHosts: wrongKnownHosts })))
      expect(mismatch.reason).toBe("host-key")
      expect(mismatch.detail).toContain("changed")
      // A host missing from known_hosts is refused too (strict checking is the default).
      const emptyKnownHosts = NodePath.join(dir, "empty")
      yield* Effect.promise(() => NodeFs.writeFile(emptyKnownHosts, ""))
      const unknown = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { knownHosts: emptyKnownHosts })))
      // ... but told apart from a changed key: the fix is to add the key, not to suspect the host.
      expect(unknown.reason).toBe("unknown-host")
      expect(unknown.message).toContain("is not in known_hosts: add its key")
      expect(mismatch.message).toContain("remove its old line")
      // An explicit host key is checked instead of a file.
      const explicit = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { hostKey: impostor.publicKey })))
      expect(explicit.reason).toBe("host-key")
      yield* Effect.scoped(Effect.flatMap(SshdSupport.account(fixture, { hostKey: fixture.sshd.hostPublicKey }), (a) => a.ssh("true")))
      // Opting out accepts whatever the host presents.
      yield* Effect.scoped(
        Effect.flatMap(SshdSupport.account(fixture, { knownHosts: wrongKnownHosts, strictHostKeyChecking: false }), (a) => a.ssh("true"))
      )
    }))

  it.scoped("proxyJump tunnels through a jump host, whose own key and login are checked and named on failure", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const o = fixture.accountOptions
      // The server is its own jump host: the node is 127.0.0.1:port as the jump host sees it.
      const jump = { hostname: "127.0.0.1", port: fixture.sshd.port, user: o.user!, identityFile: o.identityFile!, knownHosts: o.knownHosts! }
      const viaJump = yield* SshdSupport.account(fixture, { proxyJump: [jump, jump] })
      expect(yield* viaJump.sshOutput("echo through")).toBe("through\n")
      const dir = yield* Backends.tempDir("jump")
      const emptyKnownHosts = NodePath.join(dir, "empty")
      yield* Effect.promise(() => NodeFs.writeFile(emptyKnownHosts, ""))
      const unknownJump = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { proxyJump: [{ ...jump, knownHosts: emptyKnownHosts }] })))
      expect(unknownJump.reason).toBe("unknown-host")
      expect(unknownJump.detail).toContain(`through jump host ${o.user}@127.0.0.1:${fixture.sshd.port}: [127.0.0.1]:${fixture.sshd.port} is not in`)
      const stranger = yield* Sshd.generateKeyPair(NodePath.join(dir, "stranger"))
      const authJump = yield* Effect.flip(Effect.scoped(SshdSupport.account(fixture, { proxyJump: [{ ...jump, identityFile: stranger.privateKeyPath }] })))
      expect(authJump.reason).toBe("auth")
      expect(authJump.detail).toContain("through jump host")
    }))

  it.scoped("more channels than sshd's MaxSessions on one connection: refused opens are retried", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      // 16 channels on one connection, where sshd allows 10: the extra opens fail ("open failed") until slots free.
      const greedy = yield* SshdSupport.account(fixture, { maxConnections: 1, maxChannelsPerConnection: 16 })
      yield* expectAllAtOnce(greedy, 40, "0.1")
    }))

  it.effect("after sshd restarts, the next command reconnects and works", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const a = yield* RemoteAccount
      expect(yield* a.sshOutput("echo before")).toBe("before\n")
      yield* fixture.sshd.restart
      expect(yield* a.sshOutput("echo after")).toBe("after\n")
      expect(yield* a.readFile(yield* Effect.as(a.createFile("restart.txt", "sftp too"), "restart.txt"))).toBe("sftp too")
      // A command issued while sshd is down waits for it to come back (within the reconnect schedule).
      yield* fixture.sshd.stop
      const pending = yield* Effect.fork(a.sshOutput("echo while down"))
      yield* Effect.sleep("300 millis")
      yield* fixture.sshd.restart
      expect(yield* Fiber.join(pending)).toBe("while down\n")
    }))

  it.effect("a command in flight when the connection drops fails with a connection error", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const a = yield* RemoteAccount
      const running = yield* Effect.fork(a.exec("sleep 5"))
      yield* Effect.sleep("300 millis")
      yield* fixture.sshd.restart
      const error = yield* Effect.flip(Fiber.join(running))
      expect(error._tag).toBe("RemoteConnectionError")
      if (error._tag === "RemoteConnectionError") expect(error.reason).toBe("closed")
      expect(yield* a.sshOutput("echo recovered")).toBe("recovered\n")
    }))

  it.effect("commands whose connection dropped are stopped once it is back", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.SshdFixtureTag
      const a = yield* RemoteAccount
      const marker = `lost-channel-${process.pid}-${Date.now()}`
      const running = yield* Effect.fork(Effect.all([a.exec(`sleep 600 # ${marker}`), a.exec(`sleep 601 # ${marker}`)], { concurrency: 2 }))
      yield* Effect.sleep("500 millis")
      expect(yield* processesMentioning(marker)).toHaveLength(2)
      yield* fixture.sshd.restart
      expect((yield* Effect.flip(Fiber.join(running)))._tag).toBe("RemoteConnectionError")
      // The next command reconnects; the lost commands are stopped then (in the background).
      yield* a.ssh("true")
      const left = yield* Wait.waitUntil(
        Effect.map(processesMentioning(marker), (found) => found.length === 0),
        { timeout: "10 seconds", backoff: "100 millis", errMsg: "the commands of the lost connection still run" }
      ).pipe(Effect.as(0), Effect.catchAll(() => Effect.map(processesMentioning(marker), (found) => found.length)))
      console.log(`lost connection: ${left} commands left running after reconnect (was 2)`)
      expect(left).toBe(0)
    }))
})

/** Pids of processes whose command line mentions `text` (sshd shows its config path in its title). */
const processesMentioning = (text: string) =>
  Effect.promise(async () => {
    const found: Array<number> = []
    for (const entry of await NodeFs.readdir("/proc")) {
      if (!/^\d+$/.test(entry)) continue
      const cmdline = await NodeFs.readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")
      const stat = await NodeFs.readFile(`/proc/${entry}/stat`, "utf8").catch(() => "")
      if (cmdline.includes(text) && !/\) Z /.test(stat)) found.push(Number(entry))
    }
    return found
  })

describe("Sshd", () => {
  it.scopedLive("an interrupted start leaves no server behind", () =>
    Effect.gen(function*() {
      const dir = yield* Backends.tempDir("sshd-interrupted")
      const key = yield* Sshd.generateKeyPair(NodePath.join(dir, "id"))
      const sshdDir = NodePath.join(dir, "sshd")
      // A wrapper that never lets sshd start: `start` waits for it to listen, and is interrupted while it waits.
      const stall = ["/bin/sh", "-c", "trap 'kill $! 2>/dev/null; exit 143' TERM; sleep 30 & wait", "stall"]
      const starting = yield* Effect.fork(
        Effect.scoped(Sshd.start({ address: "127.0.0.1", dir: sshdDir, authorizedKeys: [key.publicKey], wrap: stall }))
      )
      yield* Wait.waitUntil(Effect.map(processesMentioning(sshdDir), (p) => p.length > 0), {
        timeout: "10 seconds",
        backoff: "2 millis"
      })
      yield* Fiber.interrupt(starting)
      expect(yield* processesMentioning(sshdDir)).toEqual([])
    }))


  it.scopedLive("reports a port already in use, and stop is safe to repeat", () =>
    Effect.gen(function*() {
      const fixture = yield* SshdSupport.start
      const dir = yield* Backends.tempDir("sshd-busy")
      const error = yield* Effect.flip(
        Sshd.start({ address: "127.0.0.1", port: fixture.sshd.port, dir, authorizedKeys: [fixture.clientKey.publicKey] })
      )
      expect(error.reason).toBe("port-in-use")
      expect(error.message).toContain("Address already in use")
      yield* fixture.sshd.stop
      yield* fixture.sshd.stop
      expect(yield* Effect.promise(() => NodeFs.readFile(`/proc/${fixture.sshd.pid}/stat`, "utf8").then(() => true, () => false)))
        .toBe(false)
    }))
})
