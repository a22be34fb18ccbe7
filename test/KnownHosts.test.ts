import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as KnownHosts from "../src/internal/remote/ssh/knownHosts.js"

// Real keys and real hashed lines, made by OpenSSH's own ssh-keygen.
let dir: string
let keyA: string // "ssh-ed25519 AAAA…" of host key A
let keyB: string
const blob = (publicKey: string) => KnownHosts.keyBlob(publicKey)

const newKey = (name: string) => {
  ChildProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", NodePath.join(dir, name)])
  return NodeFs.readFileSync(NodePath.join(dir, `${name}.pub`), "utf8").trim().split(/\s+/).slice(0, 2).join(" ")
}

/** known_hosts text with every host name hashed by `ssh-keygen -H`, as HashKnownHosts writes them. */
const hashed = (text: string) => {
  const file = NodePath.join(dir, `hashed-${Math.random().toString(36).slice(2)}`)
  NodeFs.writeFileSync(file, text)
  ChildProcess.execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" })
  return NodeFs.readFileSync(file, "utf8")
}

const verdict = (text: string, host: string, port: number, key: string) =>
  KnownHosts.verify(KnownHosts.parse(text), host, port, blob(key))._tag

beforeAll(() => {
  dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "ducktape-knownhosts-"))
  keyA = newKey("a")
  keyB = newKey("b")
})
afterAll(() => NodeFs.rmSync(dir, { recursive: true, force: true }))

describe("known_hosts", () => {
  it("tells a known key, a changed key and an unknown host apart", () => {
    const text = `# comment\n\nnode1,10.0.0.1 ${keyA}\n`
    expect(verdict(text, "node1", 22, keyA)).toBe("Known")
    expect(verdict(text, "10.0.0.1", 22, keyA)).toBe("Known")
    expect(verdict(text, "node1", 22, keyB)).toBe("Mismatch")
    expect(verdict(text, "node2", 22, keyA)).toBe("Unknown")
  })

  it("reads hashed host names (|1|salt|hash) written by ssh-keygen -H", () => {
    const text = hashed(`node1 ${keyA}\n[10.0.0.5]:2222 ${keyB}\n`)
    expect(text).toMatch(/^\|1\|/)
    expect(text).not.toContain("node1")
    expect(verdict(text, "node1", 22, keyA)).toBe("Known")
    expect(verdict(text, "node1", 22, keyB)).toBe("Mismatch")
    expect(verdict(text, "node2", 22, keyA)).toBe("Unknown")
    expect(verdict(text, "10.0.0.5", 2222, keyB)).toBe("Known")
    expect(verdict(text, "10.0.0.5", 22, keyB)).toBe("Unknown")
  })

  it("files a non-22 port under [host]:port, with brackets taken literally", () => {
    const text = `[10.0.0.5]:2222 ${keyA}\n`
    expect(KnownHosts.lookupName("10.0.0.5", 2222)).toBe("[10.0.0.5]:2222")
    expect(KnownHosts.lookupName("10.0.0.5", 22)).toBe("10.0.0.5")
    expect(verdict(text, "10.0.0.5", 2222, keyA)).toBe("Known")
    expect(verdict(text, "10.0.0.5", 22, keyA)).toBe("Unknown")
    expect(verdict(text, "10.0.0.5", 2223, keyA)).toBe("Unknown")
    // a glob library would read [10.0.0.5] as a character class and accept "0:2222"
    expect(KnownHosts.sshPatternMatches("[10.0.0.5]:2222", "0:2222")).toBe(false)
  })

  it("matches * and ? wildcards case-insensitively, and a !negated pattern excludes a host", () => {
    const text = `node?.lab,*.example.com,!bad.example.com ${keyA}\n`
    expect(verdict(text, "node1.lab", 22, keyA)).toBe("Known")
    expect(verdict(text, "NODE1.LAB", 22, keyA)).toBe("Known")
    expect(verdict(text, "node10.lab", 22, keyA)).toBe("Unknown")
    expect(verdict(text, "good.example.com", 22, keyA)).toBe("Known")
    expect(verdict(text, "bad.example.com", 22, keyA)).toBe("Unknown")
    // as in OpenSSH, a port other than 22 is part of the name the patterns see: `[x.example.com]:2222`
    expect(verdict(text, "x.example.com", 2222, keyA)).toBe("Unknown")
    expect(verdict(`* ${keyA}\n`, "x.example.com", 2222, keyA)).toBe("Known")
    expect(KnownHosts.sshPatternMatches("{a,b}.lab", "a.lab")).toBe(false)
    expect(KnownHosts.sshPatternMatches("*", ".hidden")).toBe(true)
  })

  it("refuses a key marked @revoked, even where another line lists it as the host's key", () => {
    const text = `node1 ${keyA}\n@revoked * ${keyA}\n`
    expect(verdict(text, "node1", 22, keyA)).toBe("Revoked")
    expect(verdict(`node1 ${keyB}\n@revoked node1 ${keyA}\n`, "node1", 22, keyB)).toBe("Known")
  })

  it("does not take an @cert-authority key for the host's own key", () => {
    const text = `@cert-authority *.lab ${keyA}\n`
    expect(verdict(text, "node1.lab", 22, keyA)).toBe("Unknown")
    expect(verdict(`${text}node1.lab ${keyB}\n`, "node1.lab", 22, keyA)).toBe("Mismatch")
    expect(verdict(`${text}node1.lab ${keyB}\n`, "node1.lab", 22, keyB)).toBe("Known")
  })

  it("skips lines it cannot read, as OpenSSH does", () => {
    const text = `@unknown-marker node1 ${keyB}\nnode1\n   \nnode1 ${keyA}\n`
    expect(KnownHosts.parse(text)).toHaveLength(1)
    expect(verdict(text, "node1", 22, keyA)).toBe("Known")
  })
})
