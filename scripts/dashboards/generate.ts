// Dashboard files: one JSON per dashboard, formatted the way Grafana exports them (2-space JSON).

import type { GenContext } from '../alerts/model.js';
import { buildDashboards } from './dashboards.js';

export const DASHBOARDS_DIR = 'dashboards';

export function generateDashboardFiles(ctx: GenContext): Map<string, string> {
  const out = new Map<string, string>();
  for (const [file, d] of buildDashboards(ctx))
    out.set(`${DASHBOARDS_DIR}/${file}`, `${JSON.stringify(d, null, 2)}\n`);
  return out;
}
