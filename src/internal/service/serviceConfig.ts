/**
 * What `start` is given, checked before any node is taken: config fields still holding `Service.required`'s
 * placeholder, and nodes given together with how many to take. Each problem is a "config" ServiceError that says
 * how to start the service instead.
 */
import type * as S from "../../Service.js"
import { ServiceError } from "./errors.js"

/** The placeholder `Service.required` puts where a config field has no default. */
class Required {
  constructor(readonly hint: string | undefined) {}
}

/** @internal */
export const required = <A>(hint?: string): A => new Required(hint) as A

/** The fields of a config still holding `Service.required`'s placeholder. */
const missingFields = (config: object): ReadonlyArray<{ readonly field: string; readonly hint: string | undefined }> =>
  Object.entries(config).flatMap(([field, value]) => (value instanceof Required ? [{ field, hint: value.hint }] : []))

/** What is wrong with starting `name` with this config and these options, if anything. */
export const startProblem = <Config>(name: string, config: Config, options: S.StartOptions<Config>): ServiceError | undefined => {
  const missing = missingFields(config as object)
  if (missing.length > 0) {
    return new ServiceError({
      service: name,
      phase: "config",
      reason: missing.map(({ field, hint }) => `config.${field} is required${hint === undefined ? "" : ` (${hint})`}`).join("; ") +
        `: start it with { config: { ${missing.map((m) => `${m.field}: …`).join(", ")} } }`
    })
  }
  if (options.nodes !== undefined && (options.nodes.length === 0 || options.numNodes !== undefined || options.spec !== undefined)) {
    const reason = options.nodes.length === 0
      ? "start({ nodes }) was given no nodes"
      : "start() was given nodes and also numNodes or spec: give the nodes, or how many to take, not both"
    return new ServiceError({ service: name, phase: "config", reason })
  }
  return undefined
}
