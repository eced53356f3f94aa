import { defineMetric, type MetricDefinition } from './define.js';

// Metrics of message brokers (`metrics.instrumentAmqplib()` for RabbitMQ): messages published,
// messages processed by consumers, and the depth of the queues a service is told to watch.

/** Values of the `outcome` label of the messaging metrics. */
export const MESSAGE_OUTCOMES = Object.freeze({
  /** Processed and acknowledged (or, without acknowledgements, the handler returned); published and confirmed by the broker. */
  ack: 'ack',
  /** Rejected by the consumer (`nack`, `reject`), or refused by the broker on a confirm channel. */
  nack: 'nack',
  /** The handler threw or its promise rejected; the publish threw, or the channel closed before the broker confirmed it. */
  error: 'error',
  /** Published on a channel without confirms: written to the connection, not known to be accepted. */
  sent: 'sent',
} as const);

/**
 * `destination` of server-named queues (`amq.gen-…`: exclusive, RPC replies) and of the default
 * queue: one value for all of them, since each name lives only as long as its consumer.
 */
export const TEMPORARY_DESTINATION = '(temporary)';

/** Processing-duration buckets (seconds): 5 ms to 60 s; handlers are often slower than queries. */
export const MESSAGE_DURATION_BUCKETS = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]);

export const messagingProcessDuration = defineMetric({
  name: 'messaging_process_duration_seconds',
  type: 'histogram',
  help: 'Time from a message reaching its consumer to its acknowledgement, rejection or failure, by destination, system and outcome.',
  unit: 'seconds',
  labels: ['destination', 'system', 'outcome'],
  labelValues: { outcome: [MESSAGE_OUTCOMES.ack, MESSAGE_OUTCOMES.nack, MESSAGE_OUTCOMES.error] },
  buckets: MESSAGE_DURATION_BUCKETS,
  source: 'vigil',
  group: 'messaging',
  semconv: {
    name: 'messaging.process.duration',
    unit: 's',
    attributes: { destination: 'messaging.destination.name', system: 'messaging.system' },
  },
});

export const messagingPublished = defineMetric({
  name: 'messaging_published_total',
  type: 'counter',
  help: 'Messages published, by destination (exchange, or queue for the default exchange), system and outcome.',
  unit: 'messages',
  labels: ['destination', 'system', 'outcome'],
  labelValues: {
    outcome: [MESSAGE_OUTCOMES.ack, MESSAGE_OUTCOMES.nack, MESSAGE_OUTCOMES.error, MESSAGE_OUTCOMES.sent],
  },
  source: 'vigil',
  group: 'messaging',
  semconv: {
    name: 'messaging.client.sent.messages',
    unit: '{message}',
    attributes: { destination: 'messaging.destination.name', system: 'messaging.system' },
  },
});

export const messagingQueueMessages = defineMetric({
  name: 'messaging_queue_messages',
  type: 'gauge',
  help: 'Messages ready in a queue (not yet delivered to a consumer), as the broker last reported it.',
  unit: 'messages',
  labels: ['destination', 'system'],
  source: 'vigil',
  group: 'messaging',
});

/** Every messaging metric, in the order generators list them. */
export const MESSAGING_METRICS: readonly MetricDefinition[] = Object.freeze([
  messagingProcessDuration,
  messagingPublished,
  messagingQueueMessages,
]);
