import { checkObject, compileExclude, type ExcludeRule, VigilOptionError } from '@vigil/core';
import { createLoadShedder, type LoadShedder, type LoadShedderOptions } from './load-shedder.js';

/** The options of a framework's load-shedding adapter: a shedder's, or a shedder, plus what to spare. */
export interface LoadSheddingOptions<Req> extends LoadShedderOptions {
  /** A shedder to use (`createLoadShedder()`); then the shedder options are not allowed here. */
  shedder?: LoadShedder;
  /** Paths never shed nor counted, besides Vigil's own endpoints (the probes, `/metrics`), which never are. */
  exclude?: readonly ExcludeRule[];
  /** Requests of a class you never want shed (still counted in flight), e.g. admin or payment calls. */
  isPriority?: (req: Req) => boolean;
}

/** Validates an adapter's options (failing before anything is made) and makes its shedder. */
export function resolveLoadShedding<Req>(options: unknown): {
  readonly shedder: LoadShedder;
  /** The adapter made the shedder and closes it. */
  readonly owned: boolean;
  readonly exclude: readonly ExcludeRule[] | undefined;
  readonly isPriority: ((req: Req) => boolean) | undefined;
} {
  const {
    shedder: given,
    exclude,
    isPriority,
    ...rest
  } = checkObject('options', options) as LoadSheddingOptions<Req>;
  compileExclude(exclude, false);
  if (isPriority !== undefined && typeof isPriority !== 'function') {
    throw new VigilOptionError('isPriority', 'a function (request) => boolean', isPriority);
  }
  const extra = Object.keys(rest);
  if (given !== undefined && extra.length > 0) {
    throw new VigilOptionError(extra[0] as string, 'no shedder option when `shedder` is given', 'a value');
  }
  return { shedder: given ?? createLoadShedder(rest), owned: given === undefined, exclude, isPriority };
}
