import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Template from "../src/Template.js"

describe("Template", () => {
  it("renders sections and lists without HTML escaping", () => {
    const out = Template.renderString("{{#servers}}server.{{id}}={{host}}:2888\n{{/servers}}x={{a&b}}", {
      servers: [{ id: 1, host: "10.0.0.1" }, { id: 2, host: "10.0.0.2" }],
      "a&b": "<&>"
    })
    expect(out).toEqual(Either.right("server.1=10.0.0.1:2888\nserver.2=10.0.0.2:2888\nx=<&>"))
  })

  it("fails on a variable the view lacks, naming it — also inside sections and dotted", () => {
    const missing = (text: string, view: object) => Either.getLeft(Template.renderString(text, view, "t.conf")).pipe((o) => o._tag === "Some" ? o.value.message : "")
    expect(missing("port={{port}}", {})).toMatch(/template t.conf: the view has no value for "port"/)
    expect(missing("{{#servers}}{{host}} {{ip}}{{/servers}}", { servers: [{ host: "a" }] })).toMatch(/"ip"/)
    expect(missing("{{a.b}}", { a: {} })).toMatch(/"a.b"/)
    expect(missing("{{#flag}}x{{/flag}}", {})).toMatch(/"flag"/)
    // An inverted section is how a template handles an absent value: not an error.
    expect(Template.renderString("{{^tls}}plain{{/tls}}", {})).toEqual(Either.right("plain"))
    // Falsy values that are present are fine.
    expect(Template.renderString("{{n}}{{#off}}x{{/off}}", { n: 0, off: false })).toEqual(Either.right("0"))
    // An optional setting given as null (a config field left unset) skips its section; printed, it is missing.
    expect(Template.renderString("a{{#tls}}tls={{tls.port}}{{/tls}}", { tls: null })).toEqual(Either.right("a"))
    expect(missing("port={{port}}", { port: null })).toMatch(/"port"/)
  })

  it.effect("looks next to the asking module first, then ./templates, and names every place it looked", () =>
    Effect.gen(function*() {
      const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tpl-"))
      NodeFs.mkdirSync(NodePath.join(dir, "templates"))
      NodeFs.writeFileSync(NodePath.join(dir, "templates", "a.conf"), "a={{a}}")
      const from = NodeUrl.pathToFileURL(NodePath.join(dir, "service.ts")).href
      expect(yield* Template.render("a.conf", { a: 1 }, { from })).toBe("a=1")
      const error = yield* Effect.flip(Template.render("nope.conf", {}, { from }))
      expect(error.message).toContain(NodePath.join(dir, "templates"))
      expect(error.message).toContain(NodePath.resolve("templates"))
      expect(error.message).toMatch(/fix: create .*nope.conf/)
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }))
})
