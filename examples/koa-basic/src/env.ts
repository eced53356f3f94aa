import type { ChainOptions } from './chain.js';

/** `/chain`'s client timeouts from CHAIN_TIMEOUT_MS and CHAIN_BREAKER_RESET_MS (positive integers). */
export function chainOptions(env: NodeJS.ProcessEnv = process.env): ChainOptions {
  const read = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${name} must be a positive integer (ms), got "${raw}"`);
    return n;
  };
  const timeoutMs = read('CHAIN_TIMEOUT_MS');
  const resetTimeoutMs = read('CHAIN_BREAKER_RESET_MS');
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(resetTimeoutMs !== undefined ? { resetTimeoutMs } : {}),
  };
}
