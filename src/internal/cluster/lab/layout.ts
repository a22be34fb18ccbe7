// The lab (src/Lab.ts): checking options, and where every node's address, namespace and files go.
import * as NodePath from "node:path"
import { Effect, Option } from "effect"
import type * as L from "../../../Lab.js"
import { LabError } from "./errors.js"
import { bridgeName, firstHost, namePattern, netnsName, sshPort, vethName } from "./names.js"

export const invalid = (lab: string, detail: string) => new LabError({ lab, reason: "invalid-options", detail })

export const checkName = (name: string) =>
  namePattern.test(name)
    ? Effect.void
    : Effect.fail(invalid(name, "the name must be 1–8 lowercase letters or digits starting with a letter"))

/** `a.b.c.0/24` → `a.b.c` */
export const parseSubnet = (subnet: string): Option.Option<string> => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(subnet.trim())
  if (m === null) return Option.none()
  const octets = [m[1], m[2], m[3]].map(Number)
  return octets.every((o) => o <= 255) ? Option.some(octets.join(".")) : Option.none()
}

export const layout = (name: string, dir: string, prefix: string, nodes: number, workdir: string): L.Lab => ({
  name,
  dir,
  subnet: `${prefix}.0/24`,
  gateway: `${prefix}.1`,
  bridge: bridgeName(name),
  workdir,
  clusterFile: NodePath.join(dir, "cluster.json"),
  knownHostsFile: NodePath.join(dir, "known_hosts"),
  identityFile: NodePath.join(dir, "id_ed25519"),
  nodes: Array.from({ length: nodes }, (_, i) => {
    const k = i + 1
    const nodeDir = NodePath.join(dir, "nodes", `n${k}`)
    return {
      name: `n${k}`,
      address: `${prefix}.${firstHost + i}`,
      sshPort,
      netns: netnsName(name, k),
      veth: vethName(name, k),
      workdir,
      hostWorkdir: NodePath.join(nodeDir, "work"),
      home: NodePath.join(nodeDir, "home"),
      sshdConfig: NodePath.join(nodeDir, "sshd_config"),
      pidFile: NodePath.join(nodeDir, "sshd.pid"),
      logFile: NodePath.join(nodeDir, "sshd.log")
    }
  })
})
