// The lab (src/Lab.ts): the state file, lab.json, written before anything is made so that `down` finds a half-built lab.
import * as NodePath from "node:path"
import { Effect, Option, Schema } from "effect"
import type * as L from "../../../Lab.js"
import { LabError } from "./errors.js"
import { readText } from "./tools.js"

export const LabNodeSchema = Schema.Struct({
  name: Schema.String,
  address: Schema.String,
  sshPort: Schema.Number,
  netns: Schema.String,
  veth: Schema.String,
  workdir: Schema.String,
  hostWorkdir: Schema.String,
  home: Schema.String,
  sshdConfig: Schema.String,
  pidFile: Schema.String,
  logFile: Schema.String
})

export const LabSchema = Schema.Struct({
  name: Schema.String,
  dir: Schema.String,
  subnet: Schema.String,
  gateway: Schema.String,
  bridge: Schema.String,
  workdir: Schema.String,
  clusterFile: Schema.String,
  knownHostsFile: Schema.String,
  identityFile: Schema.String,
  nodes: Schema.Array(LabNodeSchema)
})

// The compiler checks that the file's schema and the public interface say the same thing.
const _sameShape: Schema.Schema<L.Lab> = LabSchema
void _sameShape

export const StateFile = Schema.parseJson(Schema.Struct({
  version: Schema.Literal(1),
  createdBy: Schema.Number,
  createdAt: Schema.String,
  lab: LabSchema
}))

export const stateFile = (dir: string) => NodePath.join(dir, "lab.json")

/** The lab recorded in `dir`, if any (an unreadable file counts as none: `down` must still work). */
export const readState = (dir: string): Effect.Effect<Option.Option<L.Lab>> =>
  Effect.flatMap(readText(stateFile(dir)), (text) =>
    Option.match(text, {
      onNone: () => Effect.succeed(Option.none()),
      onSome: (t) =>
        Schema.decodeUnknown(StateFile)(t).pipe(
          Effect.map((s) => Option.some(s.lab)),
          Effect.orElseSucceed(() => Option.none())
        )
    }))

/** @internal */
export const read = (dir: string): Effect.Effect<L.Lab, LabError> =>
  Effect.flatMap(readState(NodePath.resolve(dir)), (state) =>
    Option.match(state, {
      onSome: Effect.succeed,
      onNone: () =>
        Effect.fail(
          new LabError({ lab: "?", reason: "invalid-options", detail: `no readable lab.json in ${NodePath.resolve(dir)}` })
        )
    }))
