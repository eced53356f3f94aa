import type fc from 'fast-check';

/**
 * Runs per property: thousands in CI (`CI=true`), fewer locally. On a failure fast-check prints the
 * seed, the path and the shrunk counterexample; `FC_SEED=<seed> FC_PATH=<path>` replays exactly it.
 */
export const RUNS = process.env.CI === 'true' ? 5_000 : 1_000;

/** Parameters for `fc.assert`: the suite's run count, and the replayed seed and path when given. */
export function runs(numRuns = RUNS): fc.Parameters<unknown> {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  return {
    numRuns,
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path ? { path } : {}),
  };
}

/** A string of `chars` characters made of `unit` repeated: adversarial input for scanners. */
export function huge(unit: string, chars = 1 << 20): string {
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}
