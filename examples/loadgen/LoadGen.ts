/**
 * A load generator and its consumer as background-worker services (ducktape's BackgroundThreadService):
 * each node's worker runs a process on its node and reads its output lines as they arrive.
 *
 * The messages travel through a Redis list (see ../redis/Redis.ts): the producer's shell loop pushes
 * `msg <n>` with redis-cli and prints each message once Redis has acknowledged it; the consumer runs
 * `redis-cli BLPOP` forever and prints what it pops. Both workers record the numbers they see.
 */
import { Duration, Effect, Stream } from "effect"
import { Service } from "ducktape-effect"
import type { RedisConfig } from "../redis/Redis.js"

/** Where the messages go: a Redis server and a list on it. */
export interface Broker {
  readonly host: string
  readonly port: number
  readonly key: string
}

/** The broker of a running Redis service (its first node). */
export const brokerOf = (redis: Service.RunningService<RedisConfig>, key = "loadgen"): Broker => ({
  host: redis.node(1).account.externallyRoutableIp,
  port: redis.config.port,
  key
})

/** What a worker has seen so far: its process's pid (producer) and the message numbers, in arrival order. */
export interface Progress {
  pid: number | undefined
  readonly messages: Array<number>
}

const progressOf = new WeakMap<object, Progress>()

/** The live progress of a producer or consumer (one node each). */
export const progress = (service: Service.RunningService<unknown>): Progress => {
  const known = progressOf.get(service)
  if (known !== undefined) return known
  const fresh: Progress = { pid: undefined, messages: [] }
  progressOf.set(service, fresh)
  return fresh
}

/** Reads a worker's output lines into its progress as they arrive. */
const record = (service: Service.RunningService<unknown>) => (line: string) =>
  Effect.sync(() => {
    const state = progress(service)
    const pid = /^pid (\d+)$/.exec(line)
    const msg = /^msg (\d+)$/.exec(line)
    if (pid !== null) state.pid = Number(pid[1])
    else if (msg !== null) state.messages.push(Number(msg[1]))
  })

/** The producer's configuration. */
export interface ProducerConfig {
  readonly broker: Broker
  readonly messages: number
  /** Pause between messages, which sets the rate. */
  readonly interval: Duration.DurationInput
}

// $1..$5 are host, port, key, count and pause: values reach the script as arguments, never spliced into it.
// One redis-cli session runs the commands as they come; each RPUSH is followed by an ECHO whose reply, printed
// after the RPUSH's own, is the acknowledgement line `msg <n>`.
const producerScript = `echo "pid $$"
i=1
while [ "$i" -le "$4" ]; do
  echo "RPUSH \\"$3\\" \\"msg $i\\""
  echo "ECHO \\"msg $i\\""
  i=$((i + 1))
  sleep "$5"
done | redis-cli -h "$1" -p "$2"`

/** Pushes `messages` numbered messages at a steady pace, then ends: `wait` returns once all are acknowledged. */
export const Producer = Service.background<ProducerConfig>({
  name: "producer",
  packages: ["redis-tools"],
  config: { broker: Service.required("brokerOf(redis)"), messages: 200, interval: "5 millis" },
  worker: (node, producer) => {
    const { broker, interval, messages } = producer.config
    const pause = String(Duration.toMillis(Duration.decode(interval)) / 1000)
    const args = [broker.host, String(broker.port), broker.key, String(messages), pause]
    return node.account.sshCapture(["sh", "-c", producerScript, "producer", ...args]).pipe(Stream.runForEach(record(producer)))
  }
})

/** The consumer's configuration. */
export interface ConsumerConfig {
  readonly broker: Broker
}

/** Pops messages until it is stopped. */
export const Consumer = Service.background<ConsumerConfig>({
  name: "consumer",
  packages: ["redis-tools"],
  config: { broker: Service.required("brokerOf(redis)") },
  worker: (node, consumer) => {
    const broker = consumer.config.broker
    // -r -1: repeat forever; each reply prints the list's name, then the message.
    const command = ["redis-cli", "-h", broker.host, "-p", String(broker.port), "-r", "-1", "BLPOP", broker.key, "0"]
    return node.account.sshCapture(command).pipe(Stream.runForEach(record(consumer)))
  }
})
