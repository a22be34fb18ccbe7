// The lab (src/Lab.ts): the network: choosing a free subnet, listing and building namespaces, bridge and veths.
import { Effect, Option, Schema } from "effect"
import type * as L from "../../../Lab.js"
import { LabError } from "./errors.js"
import { invalid, parseSubnet } from "./layout.js"
import { forwardRule } from "./names.js"
import type { Tools } from "./tools.js"
import { runOk } from "./tools.js"

// ---------------------------------------------------------------------------------------------------------
// Subnets
// ---------------------------------------------------------------------------------------------------------

export const ipToInt = (ip: string): number => ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0)

export const decodeRoutes = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Array(Schema.Struct({ dst: Schema.String, dev: Schema.optional(Schema.String) })))
)

/** The IPv4 networks routed in the root namespace, as [base, size] ranges. */
export const routedRanges = (lab: string) =>
  Effect.map(runOk(lab, ["ip", "-j", "-4", "route", "show"]), (out) => {
    return Option.getOrElse(decodeRoutes(out), () => []).flatMap((r) => {
      if (r.dst === "default") return []
      const [addr = "", bits = "32"] = r.dst.split("/")
      const size = 2 ** (32 - Number(bits))
      return [{ base: Math.floor(ipToInt(addr) / size) * size, size, dst: r.dst, dev: r.dev ?? "?" }]
    })
  })

export const overlapping = (ranges: ReadonlyArray<{ base: number; size: number; dst: string; dev: string }>, prefix: string) => {
  const base = ipToInt(`${prefix}.0`)
  return ranges.find((r) => r.base < base + 256 && base < r.base + r.size)
}

export const fnv1a = (s: string) => {
  let h = 0x811c9dc5
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0
  return h
}

export const chooseSubnet = (name: string, requested: string | undefined) =>
  Effect.gen(function*() {
    const ranges = yield* routedRanges(name)
    if (requested !== undefined) {
      const prefix = yield* Option.match(parseSubnet(requested), {
        onSome: Effect.succeed,
        onNone: () => Effect.fail(invalid(name, `subnet ${JSON.stringify(requested)} is not of the form a.b.c.0/24`))
      })
      const clash = overlapping(ranges, prefix)
      if (clash !== undefined) {
        return yield* Effect.fail(
          new LabError({
            lab: name,
            reason: "subnet-in-use",
            detail: `subnet ${requested} overlaps ${clash.dst} on ${clash.dev}`
          })
        )
      }
      return prefix
    }
    // A stable default per name, probing onward when another lab or network already has it.
    const start = fnv1a(name) % 256
    for (let i = 0; i < 256; i++) {
      const prefix = `10.201.${(start + i) % 256}`
      if (overlapping(ranges, prefix) === undefined) return prefix
    }
    return yield* Effect.fail(
      new LabError({ lab: name, reason: "subnet-in-use", detail: "every 10.201.<k>.0/24 is in use; pass `subnet`" })
    )
  })

// ---------------------------------------------------------------------------------------------------------
// Namespaces and links
// ---------------------------------------------------------------------------------------------------------

export const listNetns = (lab: string) =>
  Effect.map(runOk(lab, ["ip", "netns", "list"]), (out) =>
    out.split("\n").map((l) => l.trim().split(/\s+/)[0] ?? "").filter((n) => n !== ""))

export const listLinks = (lab: string) =>
  Effect.map(runOk(lab, ["ip", "-o", "link", "show"]), (out) =>
    out.split("\n").flatMap((l) => {
      const m = /^\d+:\s+([^:@\s]+)/.exec(l)
      return m?.[1] === undefined ? [] : [m[1]]
    }))

export const buildNetwork = (tools: Tools, lab: L.Lab) =>
  Effect.gen(function*() {
    const root = [
      ...lab.nodes.map((n) => `netns add ${n.netns}`),
      `link add ${lab.bridge} type bridge`,
      `addr add ${lab.gateway}/24 dev ${lab.bridge}`,
      `link set ${lab.bridge} up`,
      ...lab.nodes.flatMap((n) => [
        `link add ${n.veth} type veth peer name eth0 netns ${n.netns}`,
        `link set ${n.veth} master ${lab.bridge} up`
      ]),
      ""
    ].join("\n")
    yield* runOk(lab.name, [tools.ip, "-batch", "-"], root)
    yield* Effect.forEach(lab.nodes, (n) =>
      runOk(
        lab.name,
        [tools.ip, "-n", n.netns, "-batch", "-"],
        [`addr add ${n.address}/24 dev eth0`, "link set eth0 up", "link set lo up", `route add default via ${lab.gateway}`, ""]
          .join("\n")
      ), { concurrency: "unbounded", discard: true })
    if (Option.isSome(tools.iptables)) {
      // Where br_netfilter is loaded, bridged frames pass FORWARD; this keeps the lab working under a DROP policy.
      yield* runOk(lab.name, [tools.iptables.value, "-w", "5", "-I", ...forwardRule(lab.name)])
    }
  })
