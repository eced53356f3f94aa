export { type DbCoverage, noteDbQuery, watchDbCoverage } from './db-coverage.js';
export {
  describeValue,
  hasErrorCode,
  INVALID_OPTION,
  isVigilOptionError,
  VigilOptionError,
} from './errors.js';
export {
  ABORTED_STATUS,
  boundLabel,
  HTTP_METHODS,
  isStandardMethod,
  LABEL_VALUES,
  MAX_LABEL_LENGTH,
  normalizeMethod,
  statusClass,
  statusLabel,
} from './labels.js';
export {
  LOGGER_STATS,
  type LoggerStats,
  loggerStats,
  readLoggerStats,
} from './logger-stats.js';
export {
  checkBoolean,
  checkBuckets,
  checkFunction,
  checkInt,
  checkKnownKeys,
  checkLabels,
  checkMs,
  checkName,
  checkNumber,
  checkObject,
  checkOneOf,
  checkPort,
  checkPositiveInt,
  checkRegistry,
  checkString,
  checkStringArray,
  checkTimeout,
  checkToggle,
  isRegistry,
  LABEL_NAME,
  MAX_TIMER_MS,
  METRIC_PREFIX,
  NAME_PATTERN,
  type RegistryLike,
} from './options.js';
export {
  claimOutbound,
  clientSpanName,
  isOutboundObserved,
  isOutboundUntracked,
  setClientSpanAttributes,
  type UndiciRequestLike,
  undiciHasTraceparent,
  untrackedOutbound,
} from './outbound.js';
export {
  PROCESS_RESOURCES,
  type ProcessResource,
  type ProcessResourceReport,
  processResourceGroups,
  RESOURCE_ORDER,
  registerProcessResource,
} from './process-resources.js';
export {
  compileExclude,
  type ExcludeOptions,
  type ExcludeRule,
  type PathFilter,
  pathOf,
  VIGIL_ENDPOINTS,
} from './request/exclude.js';
export {
  completeRecord,
  createRequestObserver,
  type RequestObserver,
  type RequestObserverOptions,
  userRoute,
} from './request/observer.js';
export {
  type Admission,
  type AdmissionGate,
  type Admitted,
  excludeVigilEndpoint,
  type HttpRecorder,
  RECORD,
  REQUEST_LOG,
  type Rejected,
  type RequestLogOptions,
  type RequestLogWriter,
  type RequestRecord,
  type RouteLabel,
  type RouteResolver,
  recordOf,
  requestLogWriter,
  setRequestError,
} from './request/record.js';
export { type OwnServer, serveOn } from './serve.js';
export {
  type DbQueryInfo,
  type DbTrace,
  getTracingHook,
  type RequestTrace,
  setTracingHook,
  TRACING_HOOK,
  type TraceIds,
  type TracingHook,
  type TracingStats,
} from './tracing.js';
