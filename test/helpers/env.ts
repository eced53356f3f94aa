import { execFileSync } from 'node:child_process';

/** True when running in CI, where integration tests may not be skipped. */
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * Whether an external tool is available. In CI a missing tool is a failure, not a skip: the
 * returned check throws there, so an integration test can never pass by being skipped.
 */
export function haveTool(cmd: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    if (IN_CI) throw new Error(`${cmd} is required in CI (CI=true) but is not installed`);
    return false;
  }
}

export const PG_URL = process.env.VIGIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
