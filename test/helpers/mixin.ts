// This repository's @vigil/mixin context for tests: alert-rules/slo.config.json with the repository
// layout (scripts/mixin.mjs), generated from the package's sources.
import { join } from 'node:path';
import type { Catalog } from '../../packages/mixin/src/alerts/config.js';
import { loadConfigFile } from '../../packages/mixin/src/alerts/config.js';
import type { GenContext } from '../../packages/mixin/src/alerts/model.js';
import {
  createContext,
  generateFromContext,
  type WriteResult,
  write,
} from '../../packages/mixin/src/generate.js';
import { REPO_LAYOUT } from '../../scripts/mixin.mjs';

export { REPO_LAYOUT };

export function loadContext(
  root: string,
  catalog: Catalog,
  configFile: string = REPO_LAYOUT.configFile,
): GenContext {
  return createContext(loadConfigFile(join(root, configFile), configFile), { layout: REPO_LAYOUT }, catalog);
}

/** Every generated file of the repository (path relative to its root -> content). */
export function generateFiles(ctx: GenContext): Map<string, string> {
  return generateFromContext(ctx);
}

/** What differs between the generated files and the repository (`check`), or writes them. */
export function sync(root: string, ctx: GenContext, check: boolean): WriteResult {
  const files = [...generateFromContext(ctx)].map(([path, content]) => ({ path, content }));
  return write(files, root, { check, prune: true, layout: REPO_LAYOUT });
}
