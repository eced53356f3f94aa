import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredRange, inRange, installedVersion, rangeWithin } from '../../../test/helpers/versions.js';
import { EXPRESS_SUPPORTED } from '../src/route.js';

describe('Express router internals (src/route.ts)', () => {
  it(`runs against a supported Express (${EXPRESS_SUPPORTED}), and the peer range accepts no other`, () => {
    expect(inRange(installedVersion('express', import.meta.filename), EXPRESS_SUPPORTED)).toBe(true);
    expect(
      rangeWithin(
        declaredRange(join(import.meta.dirname, '..', 'package.json'), 'express'),
        EXPRESS_SUPPORTED,
      ),
    ).toBe(true);
  });
});
