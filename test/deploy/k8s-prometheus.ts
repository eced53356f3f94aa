// A real Prometheus running the scrape job of examples/monitoring/prometheus-k8s.yml, with
// Kubernetes discovery replaced by file_sd: each "pod" is a target group carrying the
// __meta_kubernetes_* labels the pod role would give it, so the shipped relabeling runs unchanged.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpGet, waitFor } from '../../scripts/dashboards/harness.js';
import type { Obj } from './k8s-manifests.js';

export interface FakePod {
  /** What the pod role puts in __address__: pod IP and one container port. */
  address: string;
  meta: Record<string, string>;
}

export interface RunningPrometheus {
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
  output(): string;
}

/** Starts Prometheus with `job` (its kubernetes_sd_configs swapped for file_sd over `pods`). */
export async function startWithFakePods(job: Obj, pods: FakePod[]): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-prom-'));
  const sd = join(dir, 'pods.json');
  writeFileSync(sd, JSON.stringify(pods.map((p) => ({ targets: [p.address], labels: p.meta }))));
  const { kubernetes_sd_configs: _, ...rest } = job;
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: [{ ...rest, file_sd_configs: [{ files: [sd], refresh_interval: '1s' }] }],
  };
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      'prometheus ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${out}`);
        return (await httpGet(`${url}/-/ready`)).status === 200 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    async api<T>(path: string, params: Record<string, string> = {}) {
      const qs = new URLSearchParams(params).toString();
      const res = await httpGet(`${url}${path}${qs ? `?${qs}` : ''}`);
      const body = JSON.parse(res.body) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
      return body.data;
    },
    stop,
    output: () => out,
  };
}
