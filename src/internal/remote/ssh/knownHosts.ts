import * as Crypto from "node:crypto"

/** One key line of a known_hosts file. */
interface Entry {
  readonly marker: "cert-authority" | "revoked" | undefined
  readonly hosts: string
  readonly key: Buffer
}

/** What a presented host key is, as far as the known_hosts lines say. */
export type Verdict =
  | { readonly _tag: "Known" }
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Mismatch" }
  | { readonly _tag: "Revoked" }

/** The name a host is filed under: `host`, or `[host]:port` for a port other than 22. */
export const lookupName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`)

/** Parses known_hosts text; lines it does not understand are skipped, as OpenSSH does. */
export const parse = (text: string): ReadonlyArray<Entry> => {
  const entries: Array<Entry> = []
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const fields = line.split(/\s+/)
    let marker: Entry["marker"]
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift()
      if (m === "@cert-authority") marker = "cert-authority"
      else if (m === "@revoked") marker = "revoked"
      else continue
    }
    const [hosts, , keyBase64] = fields
    if (hosts === undefined || keyBase64 === undefined) continue
    entries.push({ marker, hosts, key: Buffer.from(keyBase64, "base64") })
  }
  return entries
}

/**
 * Whether `name` matches one OpenSSH host pattern: `*` is any run of characters, `?` one character, everything else
 * literal, case-insensitive (OpenSSH's match_pattern on a lower-cased host). Kept by hand rather than picomatch,
 * on purpose (checked with picomatch 4.0.7): it reads `[10.0.0.5]:2222` as a character class, so that pattern
 * matches `0:2222`; it expands `{a,b}` and `!(x)`, and its `*` skips a leading dot. Switching all of that off
 * leaves exactly this one-line translation. Compiled patterns are cached: every connection checks the file again.
 */
export const sshPatternMatches = (pattern: string, name: string): boolean => {
  let re = compiled.get(pattern)
  if (re === undefined) {
    re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$", "i")
    if (compiled.size > 4096) compiled.clear()
    compiled.set(pattern, re)
  }
  return re.test(name)
}
const compiled = new Map<string, RegExp>()

/** Whether an entry's host field names `name`: hashed (`|1|salt|hash`) or a pattern list with `*`, `?` and `!`. */
const matchesHost = (hosts: string, name: string): boolean => {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|")
    if (salt === undefined || hash === undefined) return false
    const mac = Crypto.createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64")
    return mac === hash
  }
  let matched = false
  for (const pattern of hosts.split(",")) {
    const negated = pattern.startsWith("!")
    const p = negated ? pattern.slice(1) : pattern
    if (sshPatternMatches(p, name)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

/** Checks a presented host key blob against known_hosts entries for `host` and `port`. */
export const verify = (entries: ReadonlyArray<Entry>, host: string, port: number, key: Buffer): Verdict => {
  const name = lookupName(host, port)
  let seen = false
  for (const e of entries) {
    if (!matchesHost(e.hosts, name)) continue
    if (e.marker === "revoked" && e.key.equals(key)) return { _tag: "Revoked" }
  }
  for (const e of entries) {
    if (e.marker !== undefined || !matchesHost(e.hosts, name)) continue
    seen = true
    if (e.key.equals(key)) return { _tag: "Known" }
  }
  return seen ? { _tag: "Mismatch" } : { _tag: "Unknown" }
}

/** The key blob of a public key line (`ssh-ed25519 AAAA… comment`) or of a bare base64 key. */
export const keyBlob = (publicKey: string): Buffer => {
  const fields = publicKey.trim().split(/\s+/)
  return Buffer.from((fields.length >= 2 ? fields[1] : fields[0]) ?? "", "base64")
}

/** A SHA256 fingerprint as OpenSSH prints it, for messages. */
export const fingerprint = (key: Buffer): string =>
  `SHA256:${Crypto.createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`
