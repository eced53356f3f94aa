import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

export interface RequestOptions {
  /** `false` for a connection of its own (as the kubelet's probes make). Default: a keep-alive agent. */
  agent?: Agent | false;
}

/** One HTTP request to 127.0.0.1:`port`; resolves with status, headers and body text. */
export function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  options: RequestOptions = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const a = options.agent ?? agent;
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: a }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A GET to 127.0.0.1:`port`, or to a full `http://127.0.0.1:port/path` URL. */
export function get(
  target: number | string,
  path = '/',
  headers: Record<string, string> = {},
  options: RequestOptions & { method?: string } = {},
): Promise<Reply> {
  if (typeof target === 'string') {
    const u = new URL(target);
    return request(Number(u.port), options.method ?? 'GET', u.pathname + u.search, headers, options);
  }
  return request(target, options.method ?? 'GET', path, headers, options);
}

/** Runs `count` requests built by `make(i)` with at most `concurrency` in flight. */
export async function many(
  count: number,
  concurrency: number,
  make: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await make(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Parses Prometheus text into a map of `name{labels}` -> value (HELP/TYPE lines skipped). */
export function parseSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** The label sets (as `{...}` strings) of one sample name. */
export function seriesOf(text: string, name: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      out.push(line.slice(name.length, line.lastIndexOf(' ')));
  }
  return out;
}

export function randomPath(): string {
  return `/${Math.random().toString(36).slice(2)}/${Math.random().toString(36).slice(2, 8)}`;
}
