import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, FILE_BUFFER } from '../src/index.js';

// A file destination buffers lines (FILE_BUFFER): they must still reach the file soon after they
// are logged, and none may be lost when the process exits, however it exits.

const dir = mkdtempSync(join(tmpdir(), 'vigil-logger-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

async function until(pred: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > 5_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs a logger in a child process (built package, as users get it) and returns its exit code. */
async function child(file: string, body: string): Promise<number | null> {
  const entry = join(import.meta.dirname, '..', 'dist', 'index.js');
  const script = `import { createLogger } from ${JSON.stringify(entry)};
const log = createLogger({ service: 'exit-test', destination: ${JSON.stringify(file)} });
${body}`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const [code] = await once(p, 'exit');
  return code as number | null;
}

describe('file destination (buffered)', () => {
  it('a single small line reaches the file within the flush interval, not only once 4 KB have collected', async () => {
    const file = join(dir, 'small.log');
    const log = createLogger({ service: 'file-test', destination: file });
    log.info({ n: 1 }, 'first line');
    // It can only appear through the interval flush: nothing else writes fewer than FILE_BUFFER.bytes.
    await until(() => read(file).includes('"first line"'), 'the first line');
    expect(read(file).length).toBeLessThan(FILE_BUFFER.bytes);
    // Many lines: every one arrives, in order, as whole JSON lines, multi-byte characters intact
    // (the writer hands strings to write(), whose byte count then differs from their length).
    for (let i = 0; i < 500; i++) log.info({ i, word: 'café ☕ 🙂' }, 'bulk');
    await until(() => read(file).split('\n').filter(Boolean).length === 501, '501 lines');
    const lines = read(file)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.slice(1).map((l) => l.i)).toEqual([...Array(500).keys()]);
    expect(lines.slice(1).every((l) => l.word === 'café ☕ 🙂')).toBe(true);
    await new Promise<void>((r) => log.flush(() => r()));
  });

  it('nothing is lost at exit: process.exit(), an uncaught exception, the end of the event loop', async () => {
    const cases: [string, string, number][] = [
      ['exit', "log.info('before exit'); process.exit(3);", 3],
      ['throw', "log.info('before throw'); setImmediate(() => { throw new Error('boom'); });", 1],
      ['natural', "log.info('before the loop ends');", 0],
    ];
    for (const [name, body, code] of cases) {
      const file = join(dir, `${name}.log`);
      expect(await child(file, body), name).toBe(code);
      expect(read(file), name).toContain('"exit-test"');
      expect(read(file).trim().split('\n'), name).toHaveLength(1);
    }
  });
});
