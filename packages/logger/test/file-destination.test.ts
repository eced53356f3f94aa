import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processResourceGroups, RESOURCE_ORDER } from '@vigil/core';
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

describe('file destination: rotation and close()', () => {
  it('survives logrotate moving the file: reopen() (wired to SIGHUP) and by itself', async () => {
    const file = join(dir, 'rotate.log');
    const entry = join(import.meta.dirname, '..', 'dist', 'index.js');
    // The documented wiring for `postrotate kill -HUP`: one line in the service.
    const script = `import { createLogger } from ${JSON.stringify(entry)};
const log = createLogger({ service: 'rotate-test', destination: ${JSON.stringify(file)} });
process.on('SIGHUP', () => { log.reopen(); process.stdout.write('reopened\\n'); });
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const n = buf.slice(0, i); buf = buf.slice(i + 1);
    if (n === 'quit') { log.close().then(() => process.exit(0)); return; }
    log.info({ n }, 'line'); log.flush(); process.stdout.write('ok ' + n + '\\n');
  }
});`;
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const said = (what: string) => until(() => out.includes(`${what}\n`), what);
    const send = async (n: string) => {
      p.stdin.write(`${n}\n`);
      await said(`ok ${n}`);
    };
    const ns = (f: string) =>
      read(f)
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).n);
    await send('1');
    renameSync(file, `${file}.1`); // logrotate's default: move the file, then signal
    await send('2'); // still the moved file: the process holds its descriptor
    p.kill('SIGHUP');
    await said('reopened');
    await send('3');
    expect(ns(`${file}.1`)).toEqual(['1', '2']);
    expect(ns(file)).toEqual(['3']);
    // Without a signal: the moved file is noticed within about a second, and the path reopened.
    renameSync(file, `${file}.2`);
    let k = 0;
    await until(() => {
      void send(`auto-${k++}`);
      return existsSync(file);
    }, 'the path to be opened again');
    await send('last');
    expect(ns(`${file}.2`)[0]).toBe('3');
    expect(ns(file)).toContain('last');
    p.stdin.write('quit\n');
    const [code] = await once(p, 'exit');
    expect(code).toBe(0);
  });

  it('close() flushes, releases the timer, the exit listener and the file; idempotent', async () => {
    const file = join(dir, 'close.log');
    const exitListeners = process.listenerCount('exit');
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const log = createLogger({ destination: file });
    expect(process.listenerCount('exit')).toBe(exitListeners + 1);
    log.info({ n: 1 }, 'buffered'); // smaller than a block: only close() writes it now
    const closing = log.close();
    expect(log.close()).toBe(closing);
    await closing;
    expect(read(file)).toContain('"buffered"');
    expect(process.listenerCount('exit')).toBe(exitListeners);
    expect(timers()).toBe(before);
    await log.close();
    log.info('after close'); // dropped (counted), never thrown
    expect(read(file)).not.toContain('after close');
  });

  it('a file logger is a process resource: @vigil/shutdown flushes and closes it without a reference to it', async () => {
    const a = join(dir, 'all-a.log');
    const b = join(dir, 'all-b.log');
    createLogger({ destination: a }).info('to a');
    createLogger({ destination: b }).info('to b');
    const mine = () =>
      processResourceGroups()
        .flat()
        .filter((r) => r.name === `logger ${a}` || r.name === `logger ${b}`);
    expect(mine().map((r) => r.order)).toEqual([RESOURCE_ORDER.logs, RESOURCE_ORDER.logs]);
    await Promise.all(mine().map((r) => r.close({ timeoutMs: 500 })));
    expect(read(a)).toContain('"to a"');
    expect(read(b)).toContain('"to b"');
    expect(mine()).toEqual([]);
  });
});
