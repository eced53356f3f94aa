/** What `new Headers(init)` accepts: a record, an array of pairs or a `Headers`. */
export type HeadersLike = NonNullable<ConstructorParameters<typeof Headers>[0]>;

/** Whether fetch can send this body again (a retry): not a stream. */
export function replayable(body: unknown): boolean {
  if (body === undefined || body === null) return true;
  if (typeof body === 'string') return true;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  if (typeof Blob !== 'undefined' && body instanceof Blob) return true;
  if (body instanceof URLSearchParams) return true;
  if (typeof FormData !== 'undefined' && body instanceof FormData) return true;
  return false;
}

/** Read at most `max` bytes of a body as text, then drop the rest. */
export async function readSnippet(res: Response, max: number): Promise<string | undefined> {
  const body = res.body;
  if (body === null) return undefined;
  if (max === 0) {
    await body.cancel().catch(() => {});
    return undefined;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = Buffer.concat(chunks);
  return all.subarray(0, max).toString('utf8');
}

/** Sets every header of `init` on `target` (the request's own headers win over the defaults). */
export function setAll(target: Headers, init: HeadersLike | undefined): void {
  if (init === undefined) return;
  new Headers(init).forEach((value, key) => {
    target.set(key, value);
  });
}

/**
 * Keep the caller's signal able to stop the body of a response `fetch()` returned (as with plain
 * `fetch`). The listener is removed when the signal fires or the response is garbage collected,
 * so a long-lived signal shared by many requests does not collect listeners for ever.
 */
let bodyLinks: FinalizationRegistry<() => void> | undefined;
export function linkBodyToSignal(res: Response, bc: AbortController, signal: AbortSignal): void {
  const onAbort = () => bc.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  bodyLinks ??= new FinalizationRegistry((off) => off());
  bodyLinks.register(res, () => signal.removeEventListener('abort', onAbort));
}

/**
 * A controller that aborts with `signal` and can outlive the attempt: a `fetch()` response's body
 * stays under the caller's signal after the attempt's own signal is done.
 */
export function followSignal(signal: AbortSignal): AbortController {
  const bc = new AbortController();
  if (signal.aborted) bc.abort(signal.reason);
  else signal.addEventListener('abort', () => bc.abort(signal.reason), { once: true });
  return bc;
}
