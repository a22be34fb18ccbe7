/** The registry of running services, in a module of its own: the machinery uses it without importing Service.ts. */
import { Context } from "effect"
import type { ServiceRegistry as Registry } from "../../Service.js"

/** The current test's service registry. */
export const ServiceRegistry: Context.Tag<Registry, Registry> = Context.GenericTag<Registry>("ducktape-effect/ServiceRegistry")
