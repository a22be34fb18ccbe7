// The lab (src/Lab.ts): names. Everything a lab makes is named from its id, so `down` finds it again after a crash.

/** The default lab name. */
export const defaultName = "dtlab"

/** The default common working directory path of the nodes. */
export const defaultWorkdir = "/var/lib/ducktape-lab/work"

// Interface names are limited to 15 chars: `dt-<8>-br` and `dt-<8>-<3 digits>` fit.
export const namePattern = /^[a-z][a-z0-9]{0,7}$/
export const firstHost = 11
export const maxNodes = 254 - firstHost + 1
export const sshPort = 22

export const bridgeName = (id: string) => `dt-${id}-br`
export const vethName = (id: string, k: number) => `dt-${id}-${k}`
export const netnsName = (id: string, k: number) => `${id}-n${k}`
export const ruleComment = (id: string) => `dt-lab:${id}`
export const isLabNetns = (id: string) => (ns: string) => new RegExp(`^${id}-n\\d+$`).test(ns)
export const isLabLink = (id: string) => (link: string) => link === bridgeName(id) || new RegExp(`^dt-${id}-\\d+$`).test(link)

export const forwardRule = (id: string) => [
  "FORWARD",
  "-i",
  bridgeName(id),
  "-o",
  bridgeName(id),
  "-m",
  "comment",
  "--comment",
  ruleComment(id),
  "-j",
  "ACCEPT"
]
