/**
 * Models of the objects a history is checked against: a model is a sequential specification — an initial state
 * and a step function saying whether an operation, applied to a state, could have returned what it returned.
 *
 * Built in: `register`, `casRegister`, `kv` (a map of CAS registers, checked key by key), `set`, `queue` (FIFO),
 * `counter`. Write your own with `make`.
 *
 * Conventions (Jepsen's): an operation's `value` is its invocation's argument, its `output` what an `ok`
 * completion returned; `output` is `undefined` when unknown (an `info` operation), and a step must then accept
 * any result. `null` is Jepsen's `nil`. A `cas` op's value is `[old, new]`; a `kv` op's value is `[key, v]`.
 *
 * @since 0.1.0
 */
import type { Operation } from "./History.js"
import * as internal from "./internal/history/models.js"

/**
 * What a step returns: whether the operation could have done what it did from that state, and the state after.
 *
 * @since 0.1.0
 * @category models
 */
export interface StepResult<S> {
  readonly ok: boolean
  readonly state: S
}

/**
 * A key for state equality and hashing: two states are the same when their keys are `===`.
 *
 * @since 0.1.0
 * @category models
 */
export type StateKey = string | number | boolean | null

/**
 * A sub-history checked on its own (P-compositionality): e.g. the operations of one key.
 *
 * @since 0.1.0
 * @category models
 */
export interface Partition {
  /** What it is, for the verdict (e.g. the key). */
  readonly key: string
  readonly ops: ReadonlyArray<Operation>
}

/**
 * A sequential specification of an object.
 *
 * @since 0.1.0
 * @category models
 */
export interface Model<S = unknown> {
  /** Its name, e.g. `cas-register`. */
  readonly name: string
  /** The functions (`f`) it knows; operations with another `f` are rejected before checking. */
  readonly fs?: ReadonlyArray<string>
  /** The initial state. */
  readonly init: () => S
  /** Applies `op` to `state`. Must not mutate `state` (the checker backtracks). */
  readonly step: (state: S, op: Operation) => StepResult<S>
  /** The key of a state for equality and memoisation (default: `JSON.stringify`). */
  readonly key: (state: S) => StateKey
  /** Splits a history into sub-histories checked on their own; default: one partition. */
  readonly partition?: (ops: ReadonlyArray<Operation>) => ReadonlyArray<Partition>
  /** Whether an operation never changes the state (such an op of unknown outcome is dropped before checking). */
  readonly readOnly?: (op: Operation) => boolean
  /** A person's rendering of an operation: `cas 1→2`, `read → 3`. */
  readonly describeOp: (op: Operation) => string
  /** A person's rendering of a state. */
  readonly describeState: (state: S) => string
}

/**
 * What `make` needs: `name`, `init` and `step`; the rest has defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModelDefinition<S> {
  readonly name: string
  readonly init: () => S
  readonly step: (state: S, op: Operation) => StepResult<S>
  readonly fs?: ReadonlyArray<string>
  readonly key?: (state: S) => StateKey
  readonly partition?: (ops: ReadonlyArray<Operation>) => ReadonlyArray<Partition>
  readonly readOnly?: (op: Operation) => boolean
  readonly describeOp?: (op: Operation) => string
  readonly describeState?: (state: S) => string
}

/**
 * A model from a definition, with default key (JSON), descriptions and no partitioning.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <S>(definition: ModelDefinition<S>) => Model<S> = internal.make

/**
 * A read/write register (`read` → value, `write` v), initially `initial` (default `null`).
 *
 * @since 0.1.0
 * @category utils
 */
export const register: (initial?: unknown) => Model<unknown> = internal.register

/**
 * A compare-and-set register: `read`, `write` v, `cas` [old, new] (ok only if it swapped).
 *
 * @since 0.1.0
 * @category utils
 */
export const casRegister: (initial?: unknown) => Model<unknown> = internal.casRegister

/**
 * A map of independent objects, checked key by key: each op's value is `[key, v]` (Jepsen's `independent`), its
 * output `[key, v']`; `inner` (default `casRegister()`) is the model of one key.
 *
 * @since 0.1.0
 * @category utils
 */
export const keyed: <S>(inner: Model<S>, name?: string) => Model<S> = internal.keyed

/**
 * A key-value map of CAS registers (`keyed(casRegister())`), checked key by key.
 *
 * @since 0.1.0
 * @category utils
 */
export const kv: () => Model<unknown> = () => internal.keyed(internal.casRegister(), "kv")

/**
 * A set: `add` x, `read` → all elements (array, any order).
 *
 * @since 0.1.0
 * @category utils
 */
export const set: () => Model<ReadonlyArray<string>> = internal.set

/**
 * A FIFO queue: `enqueue` x, `dequeue` → the oldest element, or `null` when empty.
 *
 * @since 0.1.0
 * @category utils
 */
export const queue: () => Model<ReadonlyArray<string>> = internal.queue

/**
 * A counter: `add` n, `read` → the sum so far (initially 0).
 *
 * @since 0.1.0
 * @category utils
 */
export const counter: () => Model<number> = internal.counter

/**
 * The built-in models by name, as the CLI's `--model` takes them.
 *
 * @since 0.1.0
 * @category utils
 */
export const builtins: Readonly<Record<string, () => Model<any>>> = internal.builtins

/**
 * A built-in model by name (`register`, `cas-register`, `kv`, `set`, `queue`, `counter`), or undefined.
 *
 * @since 0.1.0
 * @category utils
 */
export const byName = (name: string): Model<any> | undefined => internal.builtins[name]?.()
