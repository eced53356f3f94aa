// Helpers shared by the benchmark suites: environment knobs, statistics, machine description and
// writing a suite's Markdown result to bench/results/<suite>.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_DIR = join(BENCH_DIR, 'results');

/** A positive number from the environment, or the default. Rejects junk instead of guessing. */
export function envNumber(name, fallback, { integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(
      `Invalid env ${name}: expected a positive ${integer ? 'integer' : 'number'}, got "${raw}"`,
    );
  }
  return n;
}

export function median(xs) {
  return percentile(xs, 50);
}

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(xs, p) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1];
}

/** Fixed decimals, with thousands separators for large values. */
export function fmt(n, decimals = 1) {
  if (n === undefined || n === null || Number.isNaN(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

export function ratio(a, b) {
  return b > 0 ? a / b : Number.NaN;
}

export function fmtRatio(r) {
  return Number.isNaN(r) ? 'n/a' : `${r.toFixed(2)}x`;
}

/** A Markdown table from a header row and data rows (cells are stringified). */
export function mdTable(headers, rows) {
  const line = (cells) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

function cpuModel() {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown';
}

/** One-paragraph description of the machine the numbers came from. */
export function machineInfo() {
  const gb = (os.totalmem() / 1024 ** 3).toFixed(1);
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memory: `${gb} GB`,
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    date: new Date().toISOString(),
  };
}

export function machineMarkdown(m = machineInfo()) {
  return [
    `- Date: ${m.date}`,
    `- Machine: ${m.cpu}, ${m.cores} logical CPUs, ${m.memory} RAM, ${m.os}`,
    `- Node.js: ${m.node} (V8 ${m.v8})`,
  ].join('\n');
}

/** Write bench/results/<suite>.md and print it. */
export function writeResult(suite, markdown) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${suite}.md`);
  const text = markdown.endsWith('\n') ? markdown : `${markdown}\n`;
  writeFileSync(file, text);
  console.log(`\n${text}`);
  console.log(`(written to ${file})`);
  return file;
}

/** Clock ticks per second for /proc/<pid>/stat times. */
export function clockTicks() {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(n) && n > 0) return n;
  } catch {}
  return 100; // Linux' USER_HZ on every mainstream architecture
}

/** utime and stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
export function procTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

/** The CPUs a process may run on (`Cpus_allowed_list`), to prove the pinning took. */
export function allowedCpus(pid) {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/**
 * Busy and steal ticks of one CPU from /proc/stat (busy = user+nice+system+irq+softirq), to tell
 * how much of the server's CPU went to something other than the measured server.
 */
export function cpuLineTicks(cpu) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return { busy: Number.NaN, steal: Number.NaN };
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: f[0] + f[1] + f[2] + f[5] + f[6], steal: f[7] };
}

/**
 * The server script and variant ids of a bench tool (`tools/icount.mjs`, `tools/profile.mjs`):
 * the tracing suite's servers, or http-overhead's when `<PREFIX>_SERVERS=http-overhead`; the ids
 * come from the command line, and none is a usage error.
 */
export function toolServers(tool, prefix) {
  const server =
    process.env[`${prefix}_SERVERS`] === 'http-overhead'
      ? join(BENCH_DIR, 'lib', 'server.mjs')
      : join(BENCH_DIR, 'suites', '_tracing-server.mjs');
  const variants = process.argv.slice(2);
  if (variants.length === 0) {
    console.error(`usage: node bench/tools/${tool}.mjs <variant-id>... (ids of suites/_tracing-server.mjs)`);
    process.exit(2);
  }
  return { server, variants };
}
