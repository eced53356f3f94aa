import { type AdmissionGate, answerShed, type RequestRecord } from '@vigil/core';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The load shedder's side of a Fastify instance, left for `vigilMetrics` registered after it on
 * the same instance: when their exclusions agree, metrics' observer takes the gate and becomes the
 * limiter's `onRequest` hook, so one hook and one exclusion check both admit and observe.
 */
export interface FastifyAdmission {
  readonly gate: AdmissionGate;
  readonly isPriority: ((req: FastifyRequest) => boolean) | undefined;
  /** The limiter excludes only Vigil's own endpoints (the metrics observer's default). */
  readonly defaultExclusions: boolean;
  /** What the limiter's hook runs: the gate alone until `vigilMetrics` takes it over. */
  onRequest: (req: FastifyRequest, reply: FastifyReply, done: () => void) => void;
}

const admissions = new WeakMap<object, FastifyAdmission>();

export function offerAdmission(app: object, admission: FastifyAdmission): void {
  admissions.set(app, admission);
}

/** The admission a limiter registered earlier on `app` offers (once), if any. */
export function takeAdmission(app: object): FastifyAdmission | undefined {
  const a = admissions.get(app);
  admissions.delete(app);
  return a;
}

/**
 * Answers a request the gate rejected (503, no handler); `false` when it was admitted or not gated.
 * `unrecorded`: leave it out of the metrics, as a limiter registered first does (not RED traffic).
 */
export function shedIfRejected(
  rec: RequestRecord | undefined,
  reply: FastifyReply,
  unrecorded = false,
): boolean {
  const a = rec?.admission;
  if (a === undefined || a.admitted) return false;
  if (unrecorded) (rec as RequestRecord).excluded = true;
  reply.hijack();
  answerShed(reply.raw, a);
  return true;
}
