// Helpers for test/deploy/k8s.test.ts: render the kustomize overlays offline, validate core
// objects against Kubernetes' OpenAPI schemas (kubernetes-models) and answer the questions the
// consistency checks ask (which pods a selector matches, what a named port resolves to).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export const root = join(import.meta.dirname, '..', '..');
export const k8sDir = join(root, 'examples', 'k8s');

/** Rendered manifests are free-form YAML. */
export type Obj = Record<string, any>;

/** `kubectl kustomize DIR` (offline), parsed into one object per document. */
export function render(dir: string): Obj[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 32 << 20 });
  return parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`${dir}: ${d.errors[0]?.message}`);
    return d.toJS() as Obj;
  });
}

/** API groups kubernetes-models knows (the core API and the built-in groups). */
const CRD_GROUPS = new Set(['monitoring.coreos.com', 'networking.istio.io', 'security.istio.io']);

export function isCustomResource(o: Obj): boolean {
  return CRD_GROUPS.has(String(o.apiVersion).split('/')[0] as string);
}

/**
 * Validates a core object with the model class of its apiVersion/kind (e.g.
 * `kubernetes-models/apps/v1/Deployment`); throws with the schema's message when invalid.
 */
export async function validateCore(o: Obj): Promise<void> {
  const [group, version] = String(o.apiVersion).includes('/')
    ? String(o.apiVersion).split('/')
    : [undefined, String(o.apiVersion)];
  const spec = `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`;
  const mod = (await import(spec)) as Record<string, new (data: Obj) => { validate(): void }>;
  const Model = mod[o.kind];
  if (!Model) throw new Error(`${spec} has no class ${o.kind}`);
  try {
    new Model(o).validate();
  } catch (e) {
    throw new Error(`${o.kind}/${o.metadata?.name}: ${(e as Error).message}`);
  }
}

export const byKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);

export function named(objs: Obj[], kind: string, name: string): Obj {
  const o = objs.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`no ${kind} named ${name}`);
  return o;
}

/** Pods as the workloads would create them: labels and spec of each Deployment's template. */
export function pods(objs: Obj[]): { name: string; namespace: string; labels: Obj; spec: Obj }[] {
  return byKind(objs, 'Deployment').map((d) => ({
    name: d.metadata.name,
    namespace: d.metadata.namespace,
    labels: d.spec.template.metadata.labels ?? {},
    spec: d.spec.template.spec,
  }));
}

/** Whether a label selector (matchLabels / matchExpressions) matches a label set. */
export function selects(selector: Obj | undefined, labels: Obj): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = (e.values ?? []).includes(labels[e.key]);
    const ok =
      e.operator === 'In'
        ? inValues
        : e.operator === 'NotIn'
          ? !inValues
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

/** Container ports of a pod spec by name. */
export function containerPorts(spec: Obj): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of spec.containers ?? [])
    for (const p of c.ports ?? []) if (p.name) m.set(p.name, p.containerPort);
  return m;
}

/** The Service a mesh host (`name`, `name.ns`, `name.ns.svc.cluster.local`) refers to, if any. */
export function serviceForHost(objs: Obj[], host: string, namespace: string): Obj | undefined {
  const [name, ns = namespace, ...rest] = host.split('.');
  if (rest.length && rest.join('.') !== 'svc.cluster.local') return undefined;
  return byKind(objs, 'Service').find((s) => s.metadata.name === name && s.metadata.namespace === ns);
}

/** Every key anywhere in a value (to look for fields that must not exist). */
export function allKeys(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) allKeys(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.add(k);
      allKeys(x, out);
    }
  }
  return out;
}

/**
 * Files a kustomization references (resources, patches, components), recursively, as paths
 * relative to examples/k8s; throws when one does not exist.
 */
export function referencedFiles(dir: string, seen = new Set<string>()): Set<string> {
  const kfile = join(dir, 'kustomization.yaml');
  if (!existsSync(kfile)) throw new Error(`${relative(k8sDir, dir)}: no kustomization.yaml`);
  seen.add(relative(k8sDir, kfile));
  const k = parseYaml(readFileSync(kfile, 'utf8')) as Obj;
  const refs: string[] = [
    ...(k.resources ?? []),
    ...(k.components ?? []),
    ...(k.patches ?? []).map((p: Obj) => p.path).filter(Boolean),
    ...(k.patchesStrategicMerge ?? []),
  ];
  for (const r of refs) {
    const abs = join(dir, r);
    if (!existsSync(abs)) throw new Error(`${relative(k8sDir, kfile)} references ${r}, which does not exist`);
    if (statSync(abs).isDirectory()) referencedFiles(abs, seen);
    else seen.add(relative(k8sDir, abs));
  }
  return seen;
}

/** Every YAML file under examples/k8s, relative to it. */
export function yamlFiles(dir = k8sDir): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => relative(k8sDir, join(dir, f)))
    .sort();
}

/** The default PORT an example service listens on, read from its src/server.ts. */
export function defaultPort(service: string): number {
  const file = join(root, 'examples', service, 'src', 'server.ts');
  const m = /(?:process\.)?env\.PORT\s*\?\?\s*'?(\d+)'?/.exec(readFileSync(file, 'utf8'));
  if (!m) throw new Error(`${relative(root, file)}: no \`process.env.PORT ?? <default>\``);
  return Number(m[1]);
}

export const overlayDir = (name: string) => join(k8sDir, name === 'base' ? 'base' : `overlays/${name}`);

/** The per-attempt timeout orders-service gives its users/catalog clients (src/downstream.ts). */
export function ordersAttemptTimeoutMs(): number {
  const file = join(root, 'examples', 'orders-service', 'src', 'downstream.ts');
  const m = /const TIMEOUT_MS = ([\d_]+);/.exec(readFileSync(file, 'utf8'));
  if (!m) throw new Error(`${relative(root, file)}: no \`const TIMEOUT_MS = <ms>;\``);
  return Number(m[1]?.replace(/_/g, ''));
}
