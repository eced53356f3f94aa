export { INVALID_OPTION, isVigilOptionError, VigilOptionError } from '@vigil/core';
export { type AdaptedHealth, type AdapterHealthOptions, adaptHealth } from './adapter.js';
export type { EventLoopDelayCheckOptions } from './checks/event-loop-check.js';
export { eventLoopDelayCheck } from './checks/event-loop-check.js';
export type { HeapCheckOptions } from './checks/heap-check.js';
export { heapCheck } from './checks/heap-check.js';
export type { HttpCheckOptions } from './checks/http-check.js';
export { httpCheck } from './checks/http-check.js';
export type { PgPoolClientLike, PgPoolLike, PostgresCheckOptions } from './checks/postgres-check.js';
export { postgresCheck } from './checks/postgres-check.js';
export type { RedisCheckOptions, RedisLike } from './checks/redis-check.js';
export { redisCheck } from './checks/redis-check.js';
export { createHealth, HEALTH_DEFAULTS } from './create-health.js';
export { HEALTH_CONTENT_TYPE, toHttp } from './internal/http.js';
export type {
  CheckContext,
  CheckEntry,
  CheckFunction,
  CheckOptions,
  CheckOutcome,
  Health,
  HealthBody,
  HealthCheck,
  HealthHandlerOptions,
  HealthInfo,
  HealthOptions,
  HealthPaths,
  HealthReport,
  HealthRequestHandler,
  HealthServer,
  HealthServerOptions,
  HealthState,
  HealthStatus,
  Probe,
  ProbeOptions,
} from './types.js';
