import { VigilOptionError } from '@vigil/core';
import type { CheckOptions, HealthCheck } from '../types.js';
import { noLiveness, splitOptions } from './options.js';

/** Anything with `ping()`: an `ioredis` client, a `redis` (node-redis) client, a cluster. */
export interface RedisLike {
  ping(): unknown;
}

export type RedisCheckOptions = CheckOptions;

/**
 * Redis readiness: `PING` through your client. A client that cannot cancel a command keeps it
 * pending after the run times out; the check waits on that same command (never a pile of PINGs)
 * until it settles. ioredis' `commandTimeout` or node-redis' socket options bound it.
 */
export function redisCheck(client: RedisLike, options?: RedisCheckOptions): HealthCheck {
  if (typeof client !== 'object' || client === null || typeof (client as RedisLike).ping !== 'function') {
    throw new VigilOptionError('redisCheck(client)', 'a Redis client with ping()', client);
  }
  const { scheduling } = splitOptions('redisCheck', options, []);
  noLiveness('redisCheck', scheduling);
  return {
    ...scheduling,
    dependency: true,
    componentType: 'datastore',
    async check() {
      const reply = await client.ping();
      if (typeof reply === 'string' && reply.toUpperCase() !== 'PONG') {
        return { status: 'fail', output: `unexpected PING reply ${JSON.stringify(reply.slice(0, 40))}` };
      }
      return undefined;
    },
  };
}
