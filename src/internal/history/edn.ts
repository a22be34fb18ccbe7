/**
 * A reader and writer for the subset of EDN that Jepsen writes in `history.edn` and its logs.
 *
 * Hand-written on purpose: EDN is a small data format, and the EDN readers on npm (jsedn, edn-data, …) are
 * unmaintained or model values in ways we would convert again; this one maps straight to plain data and names the
 * line of any syntax error. Mapping: nil → null; booleans; integers and floats (`N`/`M` suffixes dropped) →
 * number; strings and characters → string; keywords and symbols → their name as a string (`:read` → "read");
 * vectors, lists and sets → arrays; maps → plain objects keyed by the key's text. Tagged literals (`#inst "…"`,
 * `#jepsen.history.Op{…}`) read as the value after the tag; `#_` discards a form; `;` starts a comment.
 */

/** A syntax error at a line. */
export interface EdnError {
  readonly _tag: "EdnError"
  readonly line: number
  readonly reason: string
}

/** A form read, with the line it started on. */
export interface Form {
  readonly value: unknown
  readonly line: number
}

// Thrown only inside this module and caught by `readAll`: it unwinds the recursive descent in one step.
class Stop {
  constructor(readonly error: EdnError) {}
}

const delimiters = new Set(["(", ")", "[", "]", "{", "}", '"', ";"])
const isWhite = (c: string) => c === " " || c === "," || c === "\n" || c === "\t" || c === "\r" || c === "\f"

const intRe = /^[+-]?\d+N?$/
const floatRe = /^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?$/

class Reader {
  pos = 0
  line: number
  constructor(readonly text: string, firstLine: number) {
    this.line = firstLine
  }

  fail(reason: string): never {
    throw new Stop({ _tag: "EdnError", line: this.line, reason })
  }

  skip(): void {
    const t = this.text
    while (this.pos < t.length) {
      const c = t[this.pos]!
      if (c === "\n") {
        this.line++
        this.pos++
      } else if (isWhite(c)) {
        this.pos++
      } else if (c === ";") {
        while (this.pos < t.length && t[this.pos] !== "\n") this.pos++
      } else if (c === "#" && t[this.pos + 1] === "_") {
        this.pos += 2
        this.read()
      } else {
        return
      }
    }
  }

  atEnd(): boolean {
    this.skip()
    return this.pos >= this.text.length
  }

  read(): unknown {
    this.skip()
    const t = this.text
    if (this.pos >= t.length) this.fail("the text ends where a value was expected")
    const c = t[this.pos]!
    switch (c) {
      case "[":
      case "(":
        this.pos++
        return this.seq(c === "[" ? "]" : ")")
      case "{":
        this.pos++
        return this.map()
      case '"':
        return this.string()
      case "]":
      case ")":
      case "}":
        this.fail(`unexpected '${c}' (unbalanced brackets)`)
      case "#": {
        const d = t[this.pos + 1]
        if (d === "{") {
          this.pos += 2
          return this.seq("}")
        }
        // A tag (#inst, #uuid, #jepsen.history.Op, #:ns{…}) applies to the next form; we keep the form.
        this.pos++
        this.token()
        return this.read()
      }
      case "\\": {
        this.pos++
        const tok = this.token()
        if (tok === "" && this.pos < t.length) return t[this.pos++]!
        return tok === "newline" ? "\n" : tok === "space" ? " " : tok === "tab" ? "\t" : tok
      }
      default:
        return this.atom(this.token())
    }
  }

  token(): string {
    const t = this.text
    const start = this.pos
    while (this.pos < t.length && !isWhite(t[this.pos]!) && !delimiters.has(t[this.pos]!)) this.pos++
    return t.slice(start, this.pos)
  }

  atom(tok: string): unknown {
    if (tok === "") this.fail(`unexpected character '${this.text[this.pos]}'`)
    if (tok === "nil") return null
    if (tok === "true") return true
    if (tok === "false") return false
    if (tok[0] === ":") {
      if (tok.length === 1) this.fail("a keyword needs a name after ':'")
      return tok.slice(tok[1] === ":" ? 2 : 1)
    }
    if (intRe.test(tok)) return Number(tok.endsWith("N") ? tok.slice(0, -1) : tok)
    if (floatRe.test(tok)) return Number(tok.endsWith("M") ? tok.slice(0, -1) : tok)
    if (/^[+-]?\d/.test(tok)) {
      if (/^[+-]?\d+\/\d+$/.test(tok)) {
        const [a, b] = tok.split("/")
        return Number(a) / Number(b)
      }
      this.fail(`'${tok}' is not a number`)
    }
    return tok
  }

  seq(close: string): Array<unknown> {
    const out: Array<unknown> = []
    const opened = this.line
    for (;;) {
      this.skip()
      if (this.pos >= this.text.length) {
        this.line = opened
        this.fail(`a collection opened here is never closed with '${close}'`)
      }
      if (this.text[this.pos] === close) {
        this.pos++
        return out
      }
      out.push(this.read())
    }
  }

  map(): Record<string, unknown> {
    const items = this.seq("}")
    if (items.length % 2 !== 0) this.fail("a map needs an even number of forms (key value pairs)")
    const out: Record<string, unknown> = {}
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i]
      out[typeof k === "string" ? k : JSON.stringify(k)] = items[i + 1]
    }
    return out
  }

  string(): string {
    const t = this.text
    const opened = this.line
    this.pos++
    let out = ""
    for (;;) {
      if (this.pos >= t.length) {
        this.line = opened
        this.fail("a string opened here is never closed with '\"'")
      }
      const c = t[this.pos++]!
      if (c === '"') return out
      if (c === "\n") this.line++
      if (c !== "\\") {
        out += c
        continue
      }
      const e = t[this.pos++]
      switch (e) {
        case "n":
          out += "\n"
          break
        case "t":
          out += "\t"
          break
        case "r":
          out += "\r"
          break
        case "u": {
          const hex = t.slice(this.pos, this.pos + 4)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail(`bad unicode escape \\u${hex}`)
          out += String.fromCharCode(parseInt(hex, 16))
          this.pos += 4
          break
        }
        case '"':
        case "\\":
          out += e
          break
        default:
          this.fail(`unknown string escape \\${e ?? ""}`)
      }
    }
  }
}

/** Reads every top-level form of the text; `firstLine` numbers its first line. */
export const readAll = (
  text: string,
  firstLine = 1
): { readonly forms: ReadonlyArray<Form> } | EdnError => {
  const r = new Reader(text, firstLine)
  const forms: Array<Form> = []
  try {
    while (!r.atEnd()) {
      const line = r.line
      forms.push({ value: r.read(), line })
    }
    return { forms }
  } catch (e) {
    if (e instanceof Stop) return e.error
    return { _tag: "EdnError", line: r.line, reason: String(e) }
  }
}

/** Reads the elements of a top-level vector, each with its own line (Jepsen's `[{…} {…} …]` history). */
export const readVectorElements = (text: string): { readonly forms: ReadonlyArray<Form> } | EdnError => {
  const r = new Reader(text, 1)
  const forms: Array<Form> = []
  try {
    r.skip()
    r.pos++ // the '['
    for (;;) {
      r.skip()
      if (r.pos >= text.length) r.fail("the history vector is never closed with ']'")
      if (text[r.pos] === "]") {
        r.pos++
        if (!r.atEnd()) r.fail("text after the closing ']' of the history vector")
        return { forms }
      }
      const line = r.line
      forms.push({ value: r.read(), line })
    }
  } catch (e) {
    if (e instanceof Stop) return e.error
    return { _tag: "EdnError", line: r.line, reason: String(e) }
  }
}

const keywordish = /^[a-zA-Z*+!_?<>=-][a-zA-Z0-9*+!_?<>=./-]*$/

/** Writes a value as EDN; strings that look like names are written as keywords when `keywords` is set. */
export const write = (v: unknown, keywords = false): string => {
  if (v === null || v === undefined) return "nil"
  switch (typeof v) {
    case "number":
      return Number.isFinite(v) ? String(v) : "nil"
    case "boolean":
      return String(v)
    case "string":
      return keywords && keywordish.test(v) ? `:${v}` : JSON.stringify(v)
    default:
      if (Array.isArray(v)) return `[${v.map((x) => write(x, keywords)).join(" ")}]`
      return `{${Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${keywordish.test(k) ? `:${k}` : JSON.stringify(k)} ${write(x, keywords)}`)
        .join(", ")}}`
  }
}
