import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pinnedTickObject, pinTickObjectShape } from '../src/request/tick-shape.js';

// The request observer keeps one of Node's tick objects alive (src/request/tick-shape.ts). These
// tests pin the Node behaviour it relies on and the one it prevents, on the built package, in a
// child process with V8's natives: after a few full GCs with no tick object alive, the stores of
// `process.nextTick`'s object literal are megamorphic (its slow path for good) unless one is kept.

const coreDir = join(import.meta.dirname, '..');

/** IC states of nextTick's literal stores after ten full GCs, each with the tick queue drained. */
function literalStoresAfterGcs(pin: boolean): string[] {
  const script = `
    const { createRequestObserver } = await import('@vigil/core');
    if (${pin}) createRequestObserver();
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) {
      for (let k = 0; k < 50; k++) process.nextTick(() => {});
      await new Promise((r) => setTimeout(r, 5));
      globalThis.gc();
    }
    for (let k = 0; k < 50; k++) process.nextTick(() => {});
    await new Promise((r) => setTimeout(r, 5));
    new Function('f', '%DebugPrint(f)')(process.nextTick);`;
  const out = execFileSync(
    process.execPath,
    ['--allow-natives-syntax', '--expose-gc', '--input-type=module', '-e', script],
    { cwd: coreDir, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  return [...out.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1] as string);
}

describe('one tick object kept alive', () => {
  it('is the object Node made for a process.nextTick (its async id symbols and callback)', async () => {
    pinTickObjectShape();
    await new Promise((r) => process.nextTick(r));
    const tick = pinnedTickObject() as Record<string | symbol, unknown>;
    expect(tick).toBeDefined();
    expect(typeof tick.callback).toBe('function');
    // Node 22 and 24 add the tick's async context frame (kAsyncContextFrame).
    expect(Object.getOwnPropertySymbols(tick).map((s) => s.description)).toEqual(
      expect.arrayContaining(['async_id_symbol', 'trigger_async_id_symbol']),
    );
  });

  it("without it, full GCs make nextTick's literal stores megamorphic; with it (any observer made), they stay monomorphic", () => {
    const without = literalStoresAfterGcs(false);
    expect(without.length).toBeGreaterThanOrEqual(4);
    expect(without).toContain('MEGAMORPHIC');
    const pinned = literalStoresAfterGcs(true);
    expect(pinned.length).toBe(without.length);
    expect(new Set(pinned)).toEqual(new Set(['MONOMORPHIC']));
  });
});
