// Config validation: every mistake fails with a VigilOptionError naming the field, before any file
// is produced; and the shipped JSON Schema agrees with the validator on the same examples.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isVigilOptionError } from '@vigil/core';
import { describe, expect, it } from 'vitest';
import { generate, write } from '../src/index.js';
import { configSchema } from '../src/schema.js';
import { validateWithSchema } from './json-schema.js';

const SLO = {
  window: '30d',
  availability: { objective: 0.999 },
  latency: { objective: 0.99, thresholdSeconds: 0.5 },
};
const OK = { selector: '', slo: SLO };

/** The error `generate` throws for `config`, which must be a VigilOptionError. */
function failure(config: unknown): { option: string; message: string } {
  try {
    generate(config);
  } catch (e) {
    if (!isVigilOptionError(e)) throw e;
    return { option: e.option, message: e.message };
  }
  throw new Error(`accepted: ${JSON.stringify(config)}`);
}

// [config, the field the error must name, part of the message]
const INVALID: [string, unknown, string, RegExp][] = [
  ['not an object', [], '(root)', /a JSON object/],
  ['no slo', { selector: '' }, 'slo', /SLO targets have no defaults/],
  ['no selector', { slo: SLO }, 'selector', /job=~/],
  ['selector not matchers', { ...OK, selector: 'job=api' }, 'selector', /label matchers/],
  ['prefix with a dash', { ...OK, prefix: 'shop-' }, 'prefix', /createMetrics/],
  ['prefix not a string', { ...OK, prefix: 7 }, 'prefix', /prefix/],
  [
    'latency threshold between buckets',
    { ...OK, slo: { ...SLO, latency: { objective: 0.99, thresholdSeconds: 0.3 } } },
    'slo.latency.thresholdSeconds',
    /bucket boundaries of http_request_duration_seconds/,
  ],
  [
    'objective as percent',
    { ...OK, slo: { ...SLO, availability: { objective: 99.9 } } },
    'slo.availability.objective',
    /between 0 and 1/,
  ],
  [
    'burn factor below 1',
    { ...OK, slo: { ...SLO, window: '7d' } },
    'slo.window',
    /burn-rate factor of 0\.7.*below 1/,
  ],
  [
    'budget share above 1',
    { ...OK, slo: { ...SLO, budgetShare: { '1h': 2 } } },
    'slo.budgetShare.1h',
    /\(0, 1\]/,
  ],
  [
    'unknown burn window',
    { ...OK, slo: { ...SLO, budgetShare: { '2d': 0.1 } } },
    'slo.budgetShare.2d',
    /1h, 6h, 1d, 3d/,
  ],
  ['typo in thresholds', { ...OK, http: { errorRatoi: 0.1 } }, 'http.errorRatoi', /one of errorRatio/],
  ['duration in words', { ...OK, http: { errorRatioFor: '5 minutes' } }, 'http.errorRatioFor', /duration/],
  ['restarts not an integer', { ...OK, runtime: { restarts: 2.5 } }, 'runtime.restarts', /integer/],
  [
    'service label not a label',
    { ...OK, serviceLabels: ['job', 'app-name'] },
    'serviceLabels',
    /label names/,
  ],
  [
    'instance as a service label',
    { ...OK, serviceLabels: ['job', 'instance'] },
    'serviceLabels',
    /not "instance"/,
  ],
  ['instance label not a label', { ...OK, instanceLabel: 'pod-name' }, 'instanceLabel', /label name/],
  ['instance label reserved', { ...OK, instanceLabel: '__address__' }, 'instanceLabel', /label name/],
  [
    'instance label also a service label',
    { ...OK, serviceLabels: ['job', 'app'], instanceLabel: 'app' },
    'instanceLabel',
    /not one of serviceLabels \(job, app\)/,
  ],
  [
    'instance label used by the metrics',
    { ...OK, instanceLabel: 'route' },
    'instanceLabel',
    /label of its own/,
  ],
  ['instance label job', { ...OK, serviceLabels: ['app'], instanceLabel: 'job' }, 'instanceLabel', /not job/],
  [
    'service objective out of range',
    { ...OK, services: { checkout: { availability: { objective: 1 } } } },
    'services.checkout.availability.objective',
    /between 0 and 1/,
  ],
  [
    'service objective whose alert cannot fire',
    { ...OK, services: { batch: { latency: { objective: 0.9 } } } },
    'services.batch.latency.objective',
    /could never fire/,
  ],
  [
    'service with an unknown key',
    { ...OK, services: { checkout: { availabilty: {} } } },
    'services.checkout.availabilty',
    /availability, latency/,
  ],
  [
    'service latency threshold (shared only)',
    { ...OK, services: { a: { latency: { objective: 0.99, thresholdSeconds: 1 } } } },
    'services.a.latency.thresholdSeconds',
    /objective/,
  ],
  [
    'route group threshold between buckets',
    {
      ...OK,
      routeGroups: { api: { routes: ['/checkout'], latency: { objective: 0.99, thresholdSeconds: 0.2 } } },
    },
    'routeGroups.api.latency.thresholdSeconds',
    /bucket boundaries/,
  ],
  [
    'route group without routes',
    { ...OK, routeGroups: { api: { routes: [], latency: { objective: 0.99, thresholdSeconds: 0.25 } } } },
    'routeGroups.api.routes',
    /route templates/,
  ],
  [
    'route group name with a space',
    {
      ...OK,
      routeGroups: {
        'check out': { routes: ['/checkout'], latency: { objective: 0.99, thresholdSeconds: 0.25 } },
      },
    },
    'routeGroups.check out',
    /letters, digits/,
  ],
  [
    'route group objective whose alert cannot fire',
    {
      ...OK,
      routeGroups: { api: { routes: ['/checkout'], latency: { objective: 0.9, thresholdSeconds: 0.25 } } },
    },
    'routeGroups.api.latency.objective',
    /could never fire/,
  ],
  ['grafana tags not strings', { ...OK, grafana: { tags: ['ok', 3] } }, 'grafana.tags', /non-empty strings/],
  [
    'grafana unknown key',
    { ...OK, grafana: { dataSource: 'x' } },
    'grafana.dataSource',
    /datasource, folder, tags/,
  ],
  [
    'kubernetes name upper case',
    { ...OK, kubernetes: { name: 'Vigil' } },
    'kubernetes.name',
    /Kubernetes object name/,
  ],
  ['unknown top-level key', { ...OK, prefx: 'shop_' }, 'prefx', /one of selector/],
  [
    'grafanaBaseUrl without a scheme',
    { ...OK, grafanaBaseUrl: 'grafana:3000' },
    'grafanaBaseUrl',
    /http\(s\) URL/,
  ],
  [
    'traceUrl breaking out of a link',
    { ...OK, traceUrl: 'http://jaeger/trace/" onclick="x' },
    'traceUrl',
    /http\(s\) URL/,
  ],
];

describe('config validation', () => {
  it.each(INVALID)('%s: a VigilOptionError naming the field', (_, config, option, message) => {
    const e = failure(config);
    expect(e.option).toBe(option);
    expect(e.message).toContain(`"${option}"`);
    expect(e.message).toMatch(message);
  });

  it('accepts the smallest config, and $schema / $comment keys', () => {
    const files = generate({
      $schema: './node_modules/@vigil/mixin/schema/vigil-mixin.schema.json',
      $comment: 'x',
      ...OK,
    });
    expect(files.map((f) => f.path)).toContain('rules/vigil-slo.yaml');
    expect(files.map((f) => f.path)).toContain('dashboards/slo-fleet.json');
    expect(files.map((f) => f.path)).toContain('kubernetes/prometheusrule.yaml');
  });

  it('refuses layout paths outside the output directory', () => {
    expect(() => generate(OK, { layout: { rules: '../rules' } })).toThrow(/"layout\.rules"/);
    expect(() => generate(OK, { layout: { dashboards: '/etc' } })).toThrow(/"layout\.dashboards"/);
    expect(() => write([{ path: '../x.json', content: '{}' }], '/tmp/vigil-mixin-never')).toThrow(/outside/);
  });
});

describe('JSON Schema', () => {
  const schema = configSchema();
  const shipped = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'schema', 'vigil-mixin.schema.json'), 'utf8'),
  ) as Record<string, unknown>;

  it('the shipped file is the generated schema (descriptions aside)', () => {
    const strip = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(strip)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k]) => k !== 'description')
                .map(([k, x]) => [k, strip(x)]),
            )
          : v;
    expect(strip(shipped)).toEqual(strip(schema));
  });

  // Schema-level mistakes: the schema and the validator must both refuse them. (Burn-rate
  // arithmetic is the validator's alone: the schema cannot multiply.)
  const schemaLevel = INVALID.filter(
    ([name]) =>
      ![
        'burn factor below 1',
        'service objective whose alert cannot fire',
        'route group objective whose alert cannot fire',
        'restarts not an integer',
        // Depends on serviceLabels: the validator's alone.
        'instance label also a service label',
      ].includes(name),
  );
  it.each(schemaLevel)('%s: the schema refuses it too', (_, config) => {
    expect(validateWithSchema(shipped, config)).not.toEqual([]);
  });

  const VALID: unknown[] = [
    OK,
    {
      $schema: 'x',
      selector: 'job=~"checkout|payments"',
      prefix: 'shop_',
      serviceLabels: ['job', 'app'],
      slo: { ...SLO, window: '28d', budgetShare: { '3d': 0.11 } },
      services: {
        checkout: { availability: { objective: 0.9995 } },
        payments: { latency: { objective: 0.95 } },
      },
      routeGroups: {
        'checkout-api': {
          routes: ['/checkout', '/cart/:id'],
          latency: { objective: 0.99, thresholdSeconds: 0.25 },
        },
      },
      http: { errorRatio: 0.02 },
      runbookBaseUrl: 'https://runbooks.example.com/vigil',
      grafanaBaseUrl: 'https://grafana.example.com/',
      traceUrl: 'https://grafana.example.com/explore?trace=',
      grafana: { datasource: 'Prometheus', folder: 'Shop', tags: ['shop'] },
      kubernetes: { name: 'shop-rules', namespace: 'monitoring', labels: { release: 'prom' } },
    },
    { ...OK, serviceLabels: ['app'], instanceLabel: 'pod' },
  ];
  it.each(VALID)('a valid config passes both: %#', (config) => {
    expect(validateWithSchema(shipped, config)).toEqual([]);
    expect(() => generate(config)).not.toThrow();
  });
});
