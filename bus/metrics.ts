import { Counter, DURATION_BUCKETS, Histogram, registry, SourcedGauge } from "../core/metrics.ts";

/**
 * The bus's metrics, measured at its two seams: the consume loop (runtime.ts) for every
 * JetStream consumer (functions and bridges alike) and the request loop (serve.ts) for
 * every request/reply service. `subject` is the subject pattern the contract declares
 * (`ti.done`, `launch.*`), never the subject a message came on: tokens in subjects
 * (a cluster, a person) do not multiply the series.
 */

/** Outcome of one delivery, as runtime.ts settles it. */
export type DeliveryOutcome = "ack" | "nak" | "dead_letter";

export const messagesHandled = new Counter({
  name: "drover_messages_handled_total",
  help: "Messages a consumer handled and acked, by consumer and subject pattern",
  labelNames: ["consumer", "subject"] as const,
  registers: [registry],
});

export const messagesFailed = new Counter({
  name: "drover_messages_failed_total",
  help: "Deliveries whose handler failed; the message is redelivered later (nak)",
  labelNames: ["consumer", "subject"] as const,
  registers: [registry],
});

export const deadLetters = new Counter({
  name: "drover_dead_letters_total",
  help: "Messages dead-lettered (dlq.<consumer>): unparsable, invalid, permanent errors, or out of deliveries",
  labelNames: ["consumer", "subject"] as const,
  registers: [registry],
});

export const handlerDuration = new Histogram({
  name: "drover_handler_duration_seconds",
  help: "Time from a message's delivery to its outcome (parse, validate, handle), by outcome",
  labelNames: ["consumer", "subject", "outcome"] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

export const redeliveries = new Counter({
  name: "drover_messages_redelivered_total",
  help: "Deliveries that were not a message's first (after a nak, an ack wait, a crash)",
  labelNames: ["consumer", "subject"] as const,
  registers: [registry],
});

export const timerRuns = new Counter({
  name: "drover_timer_runs_total",
  help: "Runs of a consumer's periodic sweeps (schedule, reap), by outcome",
  labelNames: ["consumer", "timer", "outcome"] as const,
  registers: [registry],
});

export const timerDuration = new Histogram({
  name: "drover_timer_duration_seconds",
  help: "Duration of a consumer's periodic sweeps",
  labelNames: ["consumer", "timer"] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

/**
 * Read from NATS at each scrape, for the consumers this process runs (every replica of a
 * function reports the same values: aggregate with max, not sum).
 */
export const consumerPending = new SourcedGauge({
  name: "drover_consumer_pending_messages",
  help: "Messages in the stream not yet delivered to the consumer (num_pending), read at scrape time",
  labelNames: ["stream", "consumer"] as const,
});

export const consumerAckPending = new SourcedGauge({
  name: "drover_consumer_ack_pending_messages",
  help: "Messages delivered to the consumer and not yet acked (num_ack_pending), read at scrape time",
  labelNames: ["stream", "consumer"] as const,
});

export const requestsServed = new Counter({
  name: "drover_requests_total",
  help: "Requests a service answered, by service, endpoint subject pattern and outcome (ok, error)",
  labelNames: ["service", "subject", "outcome"] as const,
  registers: [registry],
});

export const requestDuration = new Histogram({
  name: "drover_request_duration_seconds",
  help: "Time to answer a request, by service and endpoint subject pattern",
  labelNames: ["service", "subject"] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

/** What bridges hold, read at each scrape from the clusters each bridge process serves. */
export const bridgeInstances = new SourcedGauge({
  name: "drover_bridge_instances",
  help: "Instances a bridge holds, by cluster and state (queued: waiting for a slot; running: in a slot, or a Slurm job not yet ended)",
  labelNames: ["cluster", "state"] as const,
});

export const bridgeSlots = new SourcedGauge({
  name: "drover_bridge_slots",
  help: "Slots of a local bridge's cluster (commands run at once); absent for dummy and Slurm",
  labelNames: ["cluster"] as const,
});
