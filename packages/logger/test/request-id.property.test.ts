import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { huge, runs } from '../../../test/helpers/property.js';
import { requestIdFrom } from '../src/internal/request-log.js';

// The incoming `x-request-id` lands in every log line of the request and in its response: a
// client chooses it, so only a bounded id from a small character set is kept.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SAFE = /^[A-Za-z0-9_\-.:@=+/]{1,128}$/;

describe('requestIdFrom (property)', () => {
  it('keeps a well-formed id as it is, replaces anything else by a random UUID', () => {
    const header = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.stringMatching(/^[A-Za-z0-9_\-.:@=+/]{1,140}$/),
      fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(header, (h) => {
        const id = requestIdFrom(h);
        if (typeof h === 'string' && SAFE.test(h)) expect(id).toBe(h);
        else expect(id).toMatch(UUID);
        // Whatever came in: at most 128 characters from the safe set (no quotes, spaces, CR/LF).
        expect(id).toMatch(SAFE);
      }),
      runs(),
    );
  });

  it('1 MB headers of every shape complete and are replaced', () => {
    for (const unit of ['a', 'a ', '-', '\n', '"', 'é']) expect(requestIdFrom(huge(unit))).toMatch(UUID);
  });
});
