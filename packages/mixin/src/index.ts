export { ConfigError, KUBERNETES_DEFAULTS } from './alerts/config.js';
export type { Layout } from './alerts/model.js';
export {
  DEFAULT_LAYOUT,
  type GeneratedFile,
  type GenerateOptions,
  generate,
  generateFromFile,
  type WriteOptions,
  type WriteResult,
  write,
} from './generate.js';
export { CONFIG_SCHEMA_FILE, configSchema } from './schema.js';
