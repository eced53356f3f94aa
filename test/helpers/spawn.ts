import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface Running {
  child: ChildProcess;
  port: number;
  output: () => string;
  /** Resolves with the output once it matches `re` (already or later); rejects if the process exits first. */
  waitForOutput(re: RegExp): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node <script>` with PORT=0 and resolves once it prints "listening on http://...:PORT". */
export async function startService(script: string, env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const onOutput = () => {
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout?.prependListener('data', onData);
    child.stderr?.prependListener('data', (b: Buffer) => {
      out += b.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`${script} exited with ${code} before listening:\n${out}`)),
    );
  });
  return {
    child,
    port,
    output: () => out,
    waitForOutput(re: RegExp) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          if (!re.test(out)) return;
          waiters.delete(check);
          child.off('exit', onExit);
          resolve(out);
        };
        const onExit = () => {
          waiters.delete(check);
          reject(new Error(`exited before printing ${re}:\n${out}`));
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      // Already gone (exited, or ended by a signal: then exitCode stays null and 'exit' has fired).
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}
