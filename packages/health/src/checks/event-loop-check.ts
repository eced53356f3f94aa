import { performance } from 'node:perf_hooks';
import { checkMs, checkNumber, VigilOptionError } from '@vigil/core';
import type { CheckOptions, HealthCheck } from '../types.js';
import { splitOptions } from './options.js';

export interface EventLoopDelayCheckOptions extends CheckOptions {
  /** Warn above this delay (ms) at the percentile. Default 200. */
  warnMs?: number;
  /** Fail above this delay (ms) at the percentile. Default 1000. */
  failMs?: number;
  /** Percentile of the delays since the previous run. Default 99. */
  percentile?: number;
  /** Sampling period (ms). Default 20. */
  resolutionMs?: number;
}

/** Samples kept between two runs (a ring): 10 minutes at the default resolution. */
const MAX_SAMPLES = 30_000;

/**
 * Event-loop delay at a percentile since the previous run: a timer every `resolutionMs` records
 * how late it fires, and a run also counts the delay building up right now (a loop blocked when
 * the probe arrives shows at once). A check of the process itself, so it may be a liveness check
 * (`liveness: true`); then choose `failMs` so only a wedged process fails, not a busy one.
 *
 * (Not `monitorEventLoopDelay`: its `reset()` also forgets the previous tick, so reading it at
 * each probe drops the next interval, and frequent probes would see no samples at all.)
 */
export function eventLoopDelayCheck(options?: EventLoopDelayCheckOptions): HealthCheck {
  const { scheduling, rest } = splitOptions('eventLoopDelayCheck', options, [
    'warnMs',
    'failMs',
    'percentile',
    'resolutionMs',
  ]);
  const warnMs = checkMs('eventLoopDelayCheck(options).warnMs', rest.warnMs, 1) ?? 200;
  const failMs = checkMs('eventLoopDelayCheck(options).failMs', rest.failMs, 1) ?? 1000;
  if (failMs < warnMs) {
    throw new VigilOptionError(
      'eventLoopDelayCheck(options).failMs',
      `a value >= warnMs (${warnMs})`,
      failMs,
    );
  }
  const percentile = checkNumber('eventLoopDelayCheck(options).percentile', rest.percentile, 1, 100) ?? 99;
  const resolution = checkMs('eventLoopDelayCheck(options).resolutionMs', rest.resolutionMs, 1) ?? 20;

  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const ring = new Float64Array(MAX_SAMPLES);
  let count = 0;
  const record = (lag: number) => {
    ring[count % MAX_SAMPLES] = lag;
    count++;
  };

  return {
    ...scheduling,
    componentType: 'system',
    check() {
      const t = performance.now();
      if (!timer) {
        // Started on the first run (not at creation): nothing runs until the check is used.
        last = t;
        timer = setInterval(() => {
          const now = performance.now();
          record(Math.max(0, now - last - resolution));
          last = now;
        }, resolution);
        timer.unref();
        return { status: 'pass', output: 'sampling started', observedValue: 0, observedUnit: 'ms' };
      }
      // The delay of the tick that is due but has not run yet, if the loop is late right now.
      const pending = Math.max(0, t - last - resolution);
      const n = Math.min(count, MAX_SAMPLES);
      const samples = Array.from(ring.subarray(0, n));
      samples.push(pending);
      samples.sort((a, b) => a - b);
      const ms = samples[Math.max(0, Math.ceil((percentile / 100) * samples.length) - 1)] ?? 0;
      count = 0;
      const observedValue = Math.round(ms * 10) / 10;
      const status = ms > failMs ? 'fail' : ms > warnMs ? 'warn' : 'pass';
      return {
        status,
        output: `p${percentile} event-loop delay ${observedValue} ms over ${n} samples`,
        observedValue,
        observedUnit: 'ms',
      };
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
