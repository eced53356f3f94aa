import { randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace';

const POOL_BYTES = 4096;

/**
 * Trace and span ids from a pool of cryptographically random bytes: one `randomFillSync` and one
 * hex conversion per 4 KB (about 170 requests), then each id is a slice of that hex string.
 * OpenTelemetry's RandomIdGenerator calls `Math.random()` and converts a fresh buffer for every
 * id; on the unsampled path of a request that was a third of the tracing cost.
 *
 * `nextTraceId()` also returns the same 32-bit accumulation of the id that OpenTelemetry's
 * TraceIdRatioBasedSampler computes, so the hook can take the ratio decision itself without asking
 * the SDK (and the SDK, asked about a sampled id with `pending`, decides the same way).
 */
export class IdPool implements IdGenerator {
  private readonly buf = Buffer.allocUnsafe(POOL_BYTES);
  private hex = '';
  private off = POOL_BYTES;
  /** Set by the hook right before it asks the SDK to start a root span with this trace id. */
  pending: string | undefined;
  /** The accumulation of the last id `nextTraceId()` returned. */
  acc = 0;

  private take(n: number): number {
    if (this.off + n > POOL_BYTES) {
      randomFillSync(this.buf);
      this.hex = this.buf.toString('hex');
      this.off = 0;
    }
    const at = this.off;
    this.off += n;
    return at;
  }

  /** A valid (non-zero) random trace id; its sampler accumulation is left in `acc`. */
  nextTraceId(): string {
    for (;;) {
      const at = this.take(16);
      const b = this.buf;
      const w0 = b.readUInt32BE(at);
      const w1 = b.readUInt32BE(at + 4);
      const w2 = b.readUInt32BE(at + 8);
      const w3 = b.readUInt32BE(at + 12);
      if ((w0 | w1 | w2 | w3) === 0) continue;
      this.acc = (((((w0 ^ w1) >>> 0) ^ w2) >>> 0) ^ w3) >>> 0;
      return this.hex.slice(at * 2, at * 2 + 32);
    }
  }

  /** A valid (non-zero) random span id. */
  generateSpanId(): string {
    for (;;) {
      const at = this.take(8);
      const b = this.buf;
      if ((b.readUInt32BE(at) | b.readUInt32BE(at + 4)) === 0) continue;
      return this.hex.slice(at * 2, at * 2 + 16);
    }
  }

  generateTraceId(): string {
    const p = this.pending;
    if (p !== undefined) {
      this.pending = undefined;
      return p;
    }
    return this.nextTraceId();
  }
}

/** The upper bound OpenTelemetry's TraceIdRatioBasedSampler compares the accumulation with. */
export function ratioUpperBound(ratio: number): number {
  const r = Math.min(1, Math.max(0, ratio));
  return r === 1 ? 0x100000000 : Math.floor(r * 0xffffffff);
}
