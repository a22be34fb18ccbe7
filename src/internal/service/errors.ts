/** The errors of services and faults, in a module of their own: the machinery makes them without importing Service.ts or Fault.ts. */
import { Schema } from "effect"

/** A service's step failed on a node (or a finite service did not finish in time). */
export class ServiceError extends Schema.TaggedError<ServiceError>()("ServiceError", {
  service: Schema.String,
  node: Schema.optional(Schema.String),
  phase: Schema.Literal("config", "provision", "allocate", "start", "stop", "clean", "wait", "worker"),
  reason: Schema.String,
  /** What the step failed with (a RemoteCommandError, a LogMonitor timeout, a defect…), when it failed with something. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `${this.service}${this.node === undefined ? "" : ` on ${this.node}`}: ${this.phase} failed: ${this.reason}`
  }
}

/** Packages that bring the tools network faults need on a node (iptables, tc). */
export const installHint = "apt-get install -y iptables iproute2"

/** A fault could not be applied; nothing of it is left applied. */
export class FaultError extends Schema.TaggedError<FaultError>()("FaultError", {
  /** Which fault: `partition`, `isolate`, `packet-loss`, `bandwidth`, `pause`, `kill`, … */
  fault: Schema.String,
  /** The node it failed on (its name), or the nodes it concerns. */
  node: Schema.String,
  reason: Schema.String,
  fix: Schema.String,
  /** The error behind it (the RemoteCommandError or connection error of the node), when there is one. */
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `cannot apply ${this.fault} on ${this.node}: ${this.reason}\n  fix: ${this.fix}`
  }
}
