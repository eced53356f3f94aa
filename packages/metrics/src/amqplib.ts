import {
  MESSAGE_OUTCOMES,
  messagingProcessDuration,
  messagingPublished,
  messagingQueueMessages,
  TEMPORARY_DESTINATION,
} from '@vigil/catalog';
import {
  boundLabel,
  checkKnownKeys,
  checkObject,
  checkPositiveInt,
  checkStringArray,
  getTracingHook,
  LABEL_VALUES,
  type MessageInfo,
  type MessageTrace,
  type TracingHook,
  VigilOptionError,
} from '@vigil/core';
import type { Instruments } from './instruments.js';
import type { CounterSeries, HistogramSeries, Instrument } from './internal/families.js';

/** Defaults of `instrumentAmqplib(target, options)`. */
export const AMQPLIB_DEFAULTS = Object.freeze({
  /** Distinct `destination` values (exchanges and queues) kept; later ones share `__overflow__`. */
  maxDestinations: 100,
  /** Queues whose depth (`messaging_queue_messages`) is asked of the broker; none by default. */
  queues: Object.freeze([]) as readonly string[],
  /** Least time (ms) between two depth polls: scrapes closer together reuse the last answer. */
  queuePollIntervalMs: 5_000,
});

export interface AmqplibOptions {
  maxDestinations?: number;
  /**
   * Queues to report the depth of, polled with `checkQueue` on a channel of Vigil's own when
   * Prometheus scrapes (at most every `queuePollIntervalMs`). Needs a connection as target.
   */
  queues?: readonly string[];
  queuePollIntervalMs?: number;
}

/** The parts of an amqplib connection (`amqp.connect()`) Vigil uses. */
export interface AmqpConnectionLike {
  createChannel(options?: unknown): Promise<unknown>;
  createConfirmChannel(options?: unknown): Promise<unknown>;
}

/** The parts of an amqplib channel (`createChannel()`, `createConfirmChannel()`) Vigil uses. */
export interface AmqpChannelLike {
  publish(exchange: string, routingKey: string, content: unknown, options?: unknown, cb?: unknown): boolean;
  consume(queue: string, onMessage: (msg: unknown) => unknown, options?: unknown): Promise<unknown>;
}

interface Message {
  readonly content?: { readonly length?: number };
  readonly fields?: { readonly deliveryTag?: number };
  readonly properties?: { readonly headers?: Record<string, unknown>; readonly messageId?: unknown };
}

interface PublishOptions {
  headers?: Record<string, unknown>;
  messageId?: unknown;
  [key: string]: unknown;
}

type Outcome = (typeof MESSAGE_OUTCOMES)[keyof typeof MESSAGE_OUTCOMES];

interface PublishCounts {
  readonly destination: string;
  readonly series: Partial<Record<Outcome, CounterSeries>>;
}

interface Pending {
  readonly t0: number;
  readonly destination: string;
  readonly hook: TracingHook | undefined;
  readonly span: MessageTrace | undefined;
}

type Fn = (...args: unknown[]) => unknown;
type Methods = Record<string, Fn | undefined>;

const SYSTEM = 'rabbitmq';
/** Marks a channel or connection already instrumented (by any handle): a second wrap would count twice. */
const WRAPPED = Symbol.for('vigil.amqplib.wrapped/1');
/** Unacknowledged messages tracked per channel; past it a message is processed untimed. */
const MAX_PENDING = 65_536;
const KEYS = Object.keys(AMQPLIB_DEFAULTS);

/** Past the series cap a message keeps its system and outcome; the destination becomes `__overflow__`. */
const overflow = (v: readonly string[]) => [LABEL_VALUES.overflowRoute, v[1] as string, v[2] as string];

const isChannel = (t: unknown): t is AmqpChannelLike =>
  typeof (t as AmqpChannelLike).publish === 'function' &&
  typeof (t as AmqpChannelLike).consume === 'function';
const isConnection = (t: unknown): t is AmqpConnectionLike =>
  typeof (t as AmqpConnectionLike).createChannel === 'function' &&
  typeof (t as AmqpConnectionLike).createConfirmChannel === 'function';

/**
 * Instruments an amqplib connection (every channel created on it afterwards) or one channel:
 * publishes (`publish`, `sendToQueue`, confirm channels) count in `messaging_published_total`
 * and carry the trace context in their headers; consumers (`consume`) are timed from delivery to
 * ack, nack or failure in `messaging_process_duration_seconds`, their handler running in a
 * CONSUMER span that continues the producer's trace. Returns the function that undoes it.
 */
export function instrumentAmqplibWith(
  ins: Instruments,
  target: unknown,
  options: AmqplibOptions | undefined,
): () => void {
  if (typeof target !== 'object' || target === null || (!isChannel(target) && !isConnection(target))) {
    throw new VigilOptionError(
      'instrumentAmqplib(target)',
      'an amqplib connection (amqp.connect()) or channel',
      target,
    );
  }
  const input = checkObject('options', options);
  checkKnownKeys('', input, KEYS);
  const maxDestinations =
    checkPositiveInt('maxDestinations', input.maxDestinations) ?? AMQPLIB_DEFAULTS.maxDestinations;
  const queues = checkStringArray('queues', input.queues) ?? AMQPLIB_DEFAULTS.queues;
  const pollMs =
    checkPositiveInt('queuePollIntervalMs', input.queuePollIntervalMs) ??
    AMQPLIB_DEFAULTS.queuePollIntervalMs;
  if (queues.length > 0 && !isConnection(target)) {
    throw new VigilOptionError(
      'queues',
      'to be given with a connection as target (queue depth is polled on a channel of its own)',
      queues,
    );
  }
  if ((target as { [WRAPPED]?: true })[WRAPPED]) {
    throw new VigilOptionError(
      'instrumentAmqplib(target)',
      'a connection or channel not instrumented yet (undo the other instrumentation first)',
      'one that is',
    );
  }

  const processed = ins.instrument(messagingProcessDuration, {
    overflow,
  }) as unknown as Instrument<HistogramSeries>;
  const published = ins.instrument(messagingPublished, { overflow }) as unknown as Instrument<CounterSeries>;
  const destinations = new Map<string, string>();
  const destinationOf = (name: string): string => {
    // Server-named queues (`amq.gen-…`, RPC replies) are one value, not one series each.
    if (name === '' || name.startsWith('amq.gen-')) return TEMPORARY_DESTINATION;
    let d = destinations.get(name);
    if (d === undefined) {
      if (destinations.size >= maxDestinations) return LABEL_VALUES.overflowRoute;
      d = boundLabel(name);
      destinations.set(name, d);
    }
    return d;
  };

  // Publish counters by destination, each outcome's series made on first use.
  const counters = new Map<string, PublishCounts>();
  const countersOf = (name: string): PublishCounts => {
    const d = destinationOf(name);
    let c = counters.get(d);
    if (c === undefined) {
      c = { destination: d, series: {} };
      counters.set(d, c);
    }
    return c;
  };
  const count = (c: PublishCounts, outcome: Outcome): void => {
    let s = c.series[outcome];
    if (s === undefined) {
      s = published.labels(c.destination, SYSTEM, outcome);
      c.series[outcome] = s;
    }
    s.inc();
  };

  let active = true;
  const undo: (() => void)[] = [];
  // Undo of each instrumented channel, dropped when the channel closes (a connection makes many).
  const channels = new Set<() => void>();
  const replace = (
    obj: object,
    name: string,
    make: (original: Fn) => Fn,
    list: (() => void)[] = undo,
  ): void => {
    const m = obj as Methods;
    const original = m[name];
    if (typeof original !== 'function') return;
    const own = Object.hasOwn(obj, name);
    const wrapper = make(original);
    m[name] = wrapper;
    list.push(() => {
      if (m[name] !== wrapper) return;
      if (own) m[name] = original;
      else delete m[name];
    });
  };
  const mark = (obj: object, list: (() => void)[] = undo): void => {
    (obj as { [WRAPPED]?: true })[WRAPPED] = true;
    list.push(() => delete (obj as { [WRAPPED]?: true })[WRAPPED]);
  };

  const wrapChannel = (ch: AmqpChannelLike): void => {
    if ((ch as { [WRAPPED]?: true })[WRAPPED]) return;
    const own: (() => void)[] = [];
    const undoChannel = () => {
      for (const u of own.reverse()) u();
    };
    channels.add(undoChannel);
    mark(ch, own);
    const confirm = typeof (ch as { waitForConfirms?: unknown }).waitForConfirms === 'function';
    // deliveryTag -> pending message; tags are per channel, acks name them.
    const pending = new Map<number, Pending>();

    const finish = (p: Pending, outcome: string, error: unknown): void => {
      try {
        const seconds = (performance.now() - p.t0) / 1000;
        if (p.span !== undefined) p.hook?.endMessage?.(p.span, error, outcome);
        processed.labels(p.destination, SYSTEM, outcome).observe(seconds, p.span?.exemplar);
      } catch {
        // Recording never breaks the consumer.
      }
    };
    const settle = (msg: unknown, allUpTo: unknown, outcome: string, error: unknown): void => {
      if (pending.size === 0) return;
      const tag = (msg as Message | undefined)?.fields?.deliveryTag;
      if (typeof tag !== 'number') return;
      if (allUpTo === true) {
        for (const [t, p] of pending) {
          if (t <= tag) {
            pending.delete(t);
            finish(p, outcome, error);
          }
        }
        return;
      }
      const p = pending.get(tag);
      if (p === undefined) return;
      pending.delete(tag);
      finish(p, outcome, error);
    };
    const settleAll = (outcome: string, error: unknown): void => {
      const all = [...pending.values()];
      pending.clear();
      for (const p of all) finish(p, outcome, error);
    };

    replace(
      ch,
      'publish',
      (original) =>
        function publish(
          this: unknown,
          exchange: unknown,
          routingKey: unknown,
          content: unknown,
          options: unknown,
          cb: unknown,
        ): unknown {
          if (!active) return original.call(this, exchange, routingKey, content, options, cb);
          const ex = typeof exchange === 'string' ? exchange : '';
          const key = typeof routingKey === 'string' ? routingKey : '';
          const counts = countersOf(ex !== '' ? ex : key);
          const hook = getTracingHook();
          if (hook === undefined && !confirm) {
            // The common case, kept lean: no tracing, no confirms.
            let result: unknown;
            try {
              result = original.call(this, exchange, routingKey, content, options, cb);
            } catch (err) {
              count(counts, MESSAGE_OUTCOMES.error);
              throw err;
            }
            count(counts, MESSAGE_OUTCOMES.sent);
            return result;
          }
          let span: MessageTrace | undefined;
          let opts = options;
          if (hook?.startSend !== undefined) {
            const given = (options ?? {}) as PublishOptions;
            if (given.headers?.traceparent === undefined) {
              // The caller's options object is never modified: the headers go on a copy.
              const headers: Record<string, unknown> = { ...given.headers };
              const info: MessageInfo = {
                system: SYSTEM,
                destination: ex,
                routingKey: key,
                messageId: typeof given.messageId === 'string' ? given.messageId : undefined,
                bodySize:
                  typeof (content as { length?: unknown } | undefined)?.length === 'number'
                    ? (content as { length: number }).length
                    : undefined,
              };
              span = hook.startSend(info, headers);
              if (headers.traceparent !== undefined || span !== undefined) opts = { ...given, headers };
            }
          }
          const done = (outcome: Outcome, error: unknown) => {
            try {
              if (span !== undefined) hook?.endMessage?.(span, error, outcome);
              count(counts, outcome);
            } catch {
              // Recording never breaks the publish.
            }
          };
          let callback = cb;
          if (confirm) {
            callback = (err: unknown, ok: unknown) => {
              done(
                err == null
                  ? MESSAGE_OUTCOMES.ack
                  : (err as Error).message === 'message nacked'
                    ? MESSAGE_OUTCOMES.nack
                    : MESSAGE_OUTCOMES.error,
                err ?? undefined,
              );
              if (typeof cb === 'function') cb(err, ok);
            };
          }
          let result: unknown;
          try {
            result = original.call(this, exchange, routingKey, content, opts, callback);
          } catch (err) {
            // Channel closed, or a bad argument: counted, then thrown as amqplib threw it.
            done(MESSAGE_OUTCOMES.error, err);
            throw err;
          }
          if (!confirm) done(MESSAGE_OUTCOMES.sent, undefined);
          return result;
        } as Fn,
      own,
    );

    replace(
      ch,
      'consume',
      (original) =>
        function consume(this: unknown, ...args: unknown[]): unknown {
          const onMessage = args[1];
          if (typeof onMessage !== 'function') return original.apply(this, args);
          const queue = typeof args[0] === 'string' ? args[0] : '';
          const destination = destinationOf(queue);
          const noAck = (args[2] as { noAck?: unknown } | undefined)?.noAck === true;
          args[1] = function onDelivery(this: unknown, msg: unknown): unknown {
            // `null`: the broker cancelled the consumer.
            if (!active || msg === null || typeof msg !== 'object') return onMessage.call(this, msg);
            return deliver(this, msg as Message, queue, destination, noAck, onMessage as Fn);
          };
          return original.apply(this, args);
        },
      own,
    );

    const deliver = (
      self: unknown,
      msg: Message,
      queue: string,
      destination: string,
      noAck: boolean,
      onMessage: Fn,
    ): unknown => {
      const tag = msg.fields?.deliveryTag;
      const tracked = noAck || (typeof tag === 'number' && pending.size < MAX_PENDING);
      let p: Pending | undefined;
      try {
        const hook = getTracingHook();
        let span: MessageTrace | undefined;
        if (tracked && hook?.startProcess !== undefined) {
          const id = msg.properties?.messageId;
          span = hook.startProcess(
            {
              system: SYSTEM,
              destination: queue,
              messageId: typeof id === 'string' ? id : undefined,
              bodySize: typeof msg.content?.length === 'number' ? msg.content.length : undefined,
            },
            msg.properties?.headers,
          );
        }
        if (tracked) p = { t0: performance.now(), destination, hook, span };
        if (p !== undefined && !noAck) pending.set(tag as number, p);
      } catch {
        p = undefined;
      }
      const run = () => onMessage.call(self, msg);
      let result: unknown;
      try {
        result =
          p?.span !== undefined && p.hook?.runMessage !== undefined ? p.hook.runMessage(p.span, run) : run();
      } catch (err) {
        if (p !== undefined) {
          if (!noAck) pending.delete(tag as number);
          finish(p, MESSAGE_OUTCOMES.error, err);
        }
        throw err;
      }
      if (p === undefined) return result;
      const q = p;
      if (result !== null && typeof (result as Promise<unknown>)?.then === 'function') {
        // Observing the rejection handles it: a handler's failure is counted, not an unhandled rejection.
        (result as Promise<unknown>).then(
          () => {
            if (noAck) finish(q, MESSAGE_OUTCOMES.ack, undefined);
          },
          (err: unknown) => {
            if (noAck || pending.get(tag as number) === q) {
              if (!noAck) pending.delete(tag as number);
              finish(q, MESSAGE_OUTCOMES.error, err ?? new Error('handler rejected'));
            }
          },
        );
      } else if (noAck) finish(q, MESSAGE_OUTCOMES.ack, undefined);
      return result;
    };

    const acking =
      (outcome: string, allArg: number) =>
      (original: Fn): Fn =>
        function ackOrNack(this: unknown, ...args: unknown[]): unknown {
          let result: unknown;
          try {
            result = original.apply(this, args);
          } catch (err) {
            // The channel is closed: the broker will deliver the message again.
            settle(args[0], args[allArg], MESSAGE_OUTCOMES.error, err);
            throw err;
          }
          settle(args[0], args[allArg], outcome, undefined);
          return result;
        };
    replace(ch, 'ack', acking(MESSAGE_OUTCOMES.ack, 1), own);
    replace(ch, 'nack', acking(MESSAGE_OUTCOMES.nack, 1), own);
    replace(ch, 'reject', acking(MESSAGE_OUTCOMES.nack, -1), own);
    const acksAll =
      (outcome: string) =>
      (original: Fn): Fn =>
        function ackAllOrNackAll(this: unknown, ...args: unknown[]): unknown {
          const result = original.apply(this, args);
          settleAll(outcome, undefined);
          return result;
        };
    replace(ch, 'ackAll', acksAll(MESSAGE_OUTCOMES.ack), own);
    replace(ch, 'nackAll', acksAll(MESSAGE_OUTCOMES.nack), own);

    // Unacknowledged messages of a closed channel go back to the queue: they failed here.
    const emitter = ch as unknown as {
      on?(event: string, fn: () => void): unknown;
      off?(event: string, fn: () => void): unknown;
    };
    const onClose = () => {
      settleAll(MESSAGE_OUTCOMES.error, new Error('channel closed'));
      channels.delete(undoChannel);
    };
    if (typeof emitter.on === 'function' && typeof emitter.off === 'function') {
      emitter.on('close', onClose);
      own.push(() => emitter.off?.('close', onClose));
    }
  };

  let stopPolling: (() => void) | undefined;
  if (isChannel(target)) wrapChannel(target);
  else {
    const conn = target as AmqpConnectionLike;
    // Vigil's own polling channel is not the application's: made with the unwrapped method.
    const createPollChannel = (conn.createChannel as Fn).bind(conn) as () => Promise<unknown>;
    mark(conn);
    // Channels created later are instrumented as they are made.
    for (const method of ['createChannel', 'createConfirmChannel']) {
      replace(
        conn,
        method,
        (original) =>
          async function createChannel(this: unknown, ...args: unknown[]): Promise<unknown> {
            const ch = await original.apply(this, args);
            if (active && typeof ch === 'object' && ch !== null && isChannel(ch)) wrapChannel(ch);
            return ch;
          },
      );
    }
    if (queues.length > 0) {
      stopPolling = pollQueueDepth(ins, createPollChannel, queues, pollMs, destinationOf);
    }
  }

  let done = false;
  return () => {
    if (done) return;
    done = true;
    active = false;
    stopPolling?.();
    for (const u of channels) u();
    channels.clear();
    for (const u of undo.reverse()) u();
  };
}

interface PollChannel {
  checkQueue(queue: string): Promise<{ messageCount?: unknown }>;
  close(): Promise<void>;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
}

/**
 * `messaging_queue_messages` for a fixed list of queues: each scrape serves the last answers and,
 * when they are older than `intervalMs`, asks again (`checkQueue`, one round trip per queue) on a
 * channel of its own, so a missing queue (which closes the channel it is asked on) never closes
 * one of the application's. A queue that cannot be checked has no series until it can.
 */
function pollQueueDepth(
  ins: Instruments,
  createChannel: () => Promise<unknown>,
  queues: readonly string[],
  intervalMs: number,
  destinationOf: (name: string) => string,
): () => void {
  const gauge = ins.instrument(messagingQueueMessages);
  const depth = new Map<string, number>();
  let channel: PollChannel | undefined;
  let opening: Promise<PollChannel> | undefined;
  let inFlight = false;
  let last = Number.NEGATIVE_INFINITY;
  let stopped = false;

  const open = async (): Promise<PollChannel> => {
    if (channel !== undefined) return channel;
    opening ??= (async () => {
      const ch = (await createChannel()) as PollChannel;
      // A 404 closes this channel with an error event: handled here, or it would crash the process.
      ch.on('error', () => {});
      ch.on('close', () => {
        if (channel === ch) channel = undefined;
      });
      if (stopped) {
        await ch.close().catch(() => {});
        throw new Error('stopped');
      }
      channel = ch;
      return ch;
    })().finally(() => {
      opening = undefined;
    });
    return opening;
  };
  const poll = async () => {
    for (const q of queues) {
      try {
        const ch = await open();
        const ok = await ch.checkQueue(q);
        const n = ok.messageCount;
        if (typeof n === 'number') depth.set(q, n);
        else depth.delete(q);
      } catch {
        depth.delete(q);
      }
    }
  };
  const collect = () => {
    for (const q of queues) {
      const n = depth.get(q);
      if (n === undefined) gauge.remove(destinationOf(q), SYSTEM);
      else gauge.labels(destinationOf(q), SYSTEM).set(n);
    }
    const now = performance.now();
    if (stopped || inFlight || now - last < intervalMs) return;
    inFlight = true;
    last = now;
    poll().finally(() => {
      inFlight = false;
    });
  };
  const off = gauge.collect(collect);
  // Ask once now, so the first scrape already has the depths.
  inFlight = true;
  last = performance.now();
  poll().finally(() => {
    inFlight = false;
  });
  return () => {
    stopped = true;
    off();
    for (const q of queues) gauge.remove(destinationOf(q), SYSTEM);
    const ch = channel;
    channel = undefined;
    ch?.close().catch(() => {});
  };
}
