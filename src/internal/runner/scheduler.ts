import * as ClusterModule from "../../Cluster.js"

/**
 * Tests waiting for nodes, grouped by the exact spec they need. Tests with the same spec are interchangeable for
 * scheduling, so finding the next test that fits costs one check per distinct spec — not per waiting test — which
 * keeps 10,000 waiting tests cheap. Larger specs are offered first; smaller ones fill the gaps they leave.
 */
export class PendingQueue<J> {
  private readonly buckets: Array<{ readonly key: string; readonly spec: ClusterModule.ClusterSpec; readonly size: number; readonly jobs: Array<J> }> = []

  constructor(private readonly specOf: (job: J) => ClusterModule.ClusterSpec) {}

  private bucketFor(job: J) {
    const spec = this.specOf(job)
    const key = JSON.stringify(ClusterModule.normalize(spec))
    let bucket = this.buckets.find((b) => b.key === key)
    if (bucket === undefined) {
      bucket = { key, spec, size: ClusterModule.specSize(spec), jobs: [] }
      // Stable: among equal sizes, the spec seen first stays first.
      const at = this.buckets.findIndex((b) => b.size < bucket!.size)
      this.buckets.splice(at < 0 ? this.buckets.length : at, 0, bucket)
    }
    return bucket
  }

  /** Queues a job behind the others of its spec. */
  push(job: J): void {
    this.bucketFor(job).jobs.push(job)
  }

  /** Queues a job ahead of the others of its spec (a retry goes next). */
  unshift(job: J): void {
    this.bucketFor(job).jobs.unshift(job)
  }

  get size(): number {
    return this.buckets.reduce((n, b) => n + b.jobs.length, 0)
  }

  /** Every waiting job, largest spec first. */
  all(): ReadonlyArray<J> {
    return this.buckets.flatMap((b) => b.jobs)
  }

  /**
   * Offers each waiting spec, largest first, to `take` (e.g. a cluster's `tryTake`); the first that is taken removes
   * its job. Returns the job with what `take` gave, or undefined if no waiting spec can be taken now.
   */
  takeFirst<A>(take: (spec: ClusterModule.ClusterSpec) => A | undefined): { readonly job: J; readonly taken: A } | undefined {
    for (const bucket of this.buckets) {
      if (bucket.jobs.length === 0) continue
      const taken = take(bucket.spec)
      if (taken !== undefined) return { job: bucket.jobs.shift()!, taken }
    }
    return undefined
  }
}
