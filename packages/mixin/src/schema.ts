// JSON Schema (draft 2020-12) of the mixin config, built from the same catalog values the
// validator uses (defaults, bucket boundaries, burn-rate windows) so the two cannot drift.
// `pnpm gen` writes it to packages/mixin/schema/vigil-mixin.schema.json.
import * as vigilCatalog from '@vigil/catalog';
import { type Catalog, HTTP_URL, reservedInstanceLabels, URL_OPTIONS } from './alerts/config.js';

/** Path of the schema inside the package (`@vigil/mixin/schema.json`). */
export const CONFIG_SCHEMA_FILE = 'schema/vigil-mixin.schema.json';

type Schema = Record<string, unknown>;
const DURATION = '^(?:\\d+(?:ms|s|m|h|d|w|y))+$';
const RATIO_OPEN = { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 };

function leaf(path: string, v: unknown, docs: ReadonlyMap<string, string>): Schema {
  const description = docs.get(path);
  const d = description ? { description } : {};
  if (Array.isArray(v))
    return {
      ...d,
      type: 'array',
      minItems: 1,
      items: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' },
      // One process is `instanceLabel`, never a service label.
      ...(path === 'serviceLabels' ? { not: { contains: { const: 'instance' } } } : {}),
      default: v,
    };
  if (path === 'instanceLabel') {
    const reserved = reservedInstanceLabels(vigilCatalog as unknown as Catalog);
    return {
      ...d,
      type: 'string',
      pattern: '^(?!__)[a-zA-Z_][a-zA-Z0-9_]*$',
      not: { enum: reserved },
      default: v,
    };
  }
  if (typeof v === 'number') {
    // Integers where the validator wants them (counts), ratios where it wants those.
    const integer = ['runtime.restarts', 'health.readinessFlaps'].includes(path);
    const ratio = /Ratio$|Utilization$/.test(path) && path !== 'resilience.breakerOpenRatio';
    if (integer) return { ...d, type: 'integer', minimum: 1, default: v };
    if (ratio) return { ...d, ...RATIO_OPEN, default: v };
    if (path === 'resilience.breakerOpenRatio')
      return { ...d, type: 'number', exclusiveMinimum: 0, maximum: 1, default: v };
    return { ...d, type: 'number', exclusiveMinimum: 0, default: v };
  }
  if (typeof v === 'string') {
    if (new RegExp(DURATION).test(v)) return { ...d, type: 'string', pattern: DURATION, default: v };
    if ((URL_OPTIONS as readonly string[]).includes(path))
      return { ...d, type: 'string', pattern: HTTP_URL.source, default: v };
    return { ...d, type: 'string', default: v };
  }
  if (v && typeof v === 'object') {
    const properties: Record<string, Schema> = {};
    for (const [k, x] of Object.entries(v)) properties[k] = leaf(path ? `${path}.${k}` : k, x, docs);
    return {
      ...d,
      type: 'object',
      additionalProperties: false,
      patternProperties: { '^\\$': {} },
      properties,
    };
  }
  throw new Error(`no schema for ${path}`);
}

/**
 * The config's JSON Schema. `docs` adds descriptions to ALERT_DEFAULTS' keys (dotted paths).
 * Checks that need arithmetic (burn-rate factors ≥ 1) are the validator's alone.
 */
export function configSchema(docs: ReadonlyMap<string, string> = new Map()): Record<string, unknown> {
  const cat = vigilCatalog as unknown as Catalog;
  const defaults = leaf('', cat.ALERT_DEFAULTS, docs) as { properties: Record<string, Schema> };
  const buckets = cat.httpRequestDuration.buckets ?? [];
  const longWindows = cat.BURN_RATE_TIERS.map((t) => t.longWindow);
  const objective = (what: string) => ({
    type: 'object',
    additionalProperties: false,
    required: ['objective'],
    properties: {
      objective: { ...RATIO_OPEN, description: `Share of ${what} (0 < objective < 1), e.g. 0.999.` },
    },
  });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/vigil-observability/vigil/blob/main/packages/mixin/schema/vigil-mixin.schema.json',
    title: '@vigil/mixin config',
    description: 'What `vigil-mixin generate` generates dashboards, alert rules and runbooks from.',
    type: 'object',
    required: ['slo', 'selector'],
    additionalProperties: false,
    patternProperties: { '^\\$': {} },
    properties: {
      ...defaults.properties,
      selector: {
        type: 'string',
        description:
          'Required. PromQL label matchers added to every selector, e.g. job=~"api|worker"; "" selects every target that exposes Vigil\'s metrics.',
        pattern:
          '^$|^\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*(?:=~|!~|!=|=)\\s*"(?:[^"\\\\]|\\\\.)*"(?:\\s*,\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*(?:=~|!~|!=|=)\\s*"(?:[^"\\\\]|\\\\.)*")*\\s*$',
      },
      prefix: {
        type: 'string',
        pattern: '^([a-zA-Z_:][a-zA-Z0-9_:]*)?$',
        default: '',
        description: 'Metric name prefix, the one given to createMetrics({ prefix }).',
      },
      slo: {
        type: 'object',
        description: 'SLO targets shared by every service (no defaults).',
        required: ['window', 'availability', 'latency'],
        additionalProperties: false,
        patternProperties: { '^\\$': {} },
        properties: {
          window: { type: 'string', pattern: DURATION, description: 'SLO period, e.g. "30d".' },
          availability: objective('requests that must not fail with 5xx'),
          latency: {
            type: 'object',
            additionalProperties: false,
            required: ['objective', 'thresholdSeconds'],
            properties: {
              objective: {
                ...RATIO_OPEN,
                description: 'Share of non-5xx requests faster than thresholdSeconds.',
              },
              thresholdSeconds: {
                enum: [...buckets],
                description: `A bucket boundary of ${cat.httpRequestDuration.name}.`,
              },
            },
          },
          budgetShare: {
            type: 'object',
            description: 'Share of the error budget each burn-rate tier may spend within its long window.',
            additionalProperties: false,
            properties: Object.fromEntries(
              longWindows.map((w) => [w, { type: 'number', exclusiveMinimum: 0, maximum: 1 }]),
            ),
          },
        },
      },
      services: {
        type: 'object',
        description: 'Per-service objectives, keyed by the value of the last service label; others use slo.',
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          properties: {
            availability: objective('requests that must not fail with 5xx'),
            latency: objective('non-5xx requests faster than slo.latency.thresholdSeconds'),
          },
        },
      },
      routeGroups: {
        type: 'object',
        description:
          'Per-route latency SLOs, each with its own threshold and objective; recorded as slo="latency:<name>".',
        propertyNames: { pattern: '^[a-zA-Z0-9_-]{1,40}$' },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['routes', 'latency'],
          properties: {
            routes: {
              type: 'array',
              minItems: 1,
              items: { type: 'string', minLength: 1 },
              description: 'Route templates (values of the route label), e.g. "/orders/:id".',
            },
            latency: {
              type: 'object',
              additionalProperties: false,
              required: ['objective', 'thresholdSeconds'],
              properties: {
                objective: {
                  ...RATIO_OPEN,
                  description: "Share of the routes' non-5xx requests faster than thresholdSeconds.",
                },
                thresholdSeconds: {
                  enum: [...buckets],
                  description: `A bucket boundary of ${cat.httpRequestDuration.name}.`,
                },
              },
            },
          },
        },
      },
      grafana: {
        type: 'object',
        additionalProperties: false,
        properties: {
          datasource: {
            type: 'string',
            default: '',
            description: 'Prometheus data source selected by default.',
          },
          folder: {
            type: 'string',
            default: '',
            description: 'Grafana folder of the generated provisioning file.',
          },
          tags: {
            type: 'array',
            items: { type: 'string', minLength: 1, maxLength: 50 },
            default: [],
            description: 'Tags added to every dashboard.',
          },
        },
      },
      kubernetes: {
        type: 'object',
        additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', default: 'vigil-rules' },
          namespace: { type: 'string', pattern: '^$|^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', default: '' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
  };
}
