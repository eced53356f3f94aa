import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredRange, inRange, installedVersion, rangeWithin } from '../../../test/helpers/versions.js';
import { EXPRESS_SUPPORTED } from '../src/route.js';

describe('Express router internals (src/route.ts)', () => {
  it(`runs against supported Expresses (${EXPRESS_SUPPORTED}), and the peer range accepts no other`, () => {
    // `express` is Express 5, `express4` Express 4: the tests run each case against both.
    expect(inRange(installedVersion('express', import.meta.filename), EXPRESS_SUPPORTED)).toBe(true);
    expect(installedVersion('express4', import.meta.filename)).toMatch(/^4\./);
    expect(inRange(installedVersion('express4', import.meta.filename), EXPRESS_SUPPORTED)).toBe(true);
    // The oldest Express 4 the peer range accepts is tested too (routes tests).
    expect(installedVersion('express417', import.meta.filename)).toMatch(/^4\.17\./);
    expect(inRange(installedVersion('express417', import.meta.filename), EXPRESS_SUPPORTED)).toBe(true);
    expect(
      rangeWithin(
        declaredRange(join(import.meta.dirname, '..', 'package.json'), 'express'),
        EXPRESS_SUPPORTED,
      ),
    ).toBe(true);
    // The union is checked part by part: a part outside the pin fails it.
    expect(rangeWithin('^4.16.0 || ^5.0.0', EXPRESS_SUPPORTED)).toBe(false);
    expect(rangeWithin('^4.17.0 || ^6.0.0', EXPRESS_SUPPORTED)).toBe(false);
  });
});
