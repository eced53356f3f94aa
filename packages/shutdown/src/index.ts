export {
  INVALID_OPTION,
  isVigilOptionError,
  PROCESS_RESOURCES,
  type ProcessResource,
  type ProcessResourceReport,
  RESOURCE_ORDER,
  registerProcessResource,
  VigilOptionError,
} from '@vigil/core';
export { createShutdown, SHUTDOWN_DEFAULTS, SHUTDOWN_EXIT_CODES } from './create-shutdown.js';
export type {
  Shutdown,
  ShutdownHook,
  ShutdownHookOptions,
  ShutdownLogger,
  ShutdownOptions,
  ShutdownReadiness,
  ShutdownState,
  ShutdownTarget,
} from './types.js';
