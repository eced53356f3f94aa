// (d) TypeScript, CommonJS side (module/moduleResolution node16): @vigil/express from a .cts file.
import { createExpressMetrics, type ExpressMetrics, LABEL_VALUES } from '@vigil/express';
import express from 'express';

const metrics: ExpressMetrics = createExpressMetrics({ excludePaths: ['/healthz'], maxSeries: 500 });
const app = express();
app.use(metrics.middleware);
app.get('/metrics', metrics.handler);

// The types are real, not `any`: a wrong option must not compile.
// @ts-expect-error excludePaths takes path strings
createExpressMetrics({ excludePaths: [42] });

export const unmatched: '__unmatched__' = LABEL_VALUES.unmatchedRoute;
export const done: Promise<void> = metrics.close();
