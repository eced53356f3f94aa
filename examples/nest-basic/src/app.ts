import 'reflect-metadata';
import {
  ConsoleLogger,
  type DynamicModule,
  type INestApplication,
  Module,
  VersioningType,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  createExpressHealth,
  createExpressLoadShedding,
  createExpressMetrics,
  type ExpressHealth,
  postgresCheck,
} from '@vigil/express';
import { createLogger, type Logger } from '@vigil/logger';
import { createLoadShedderCheck } from '@vigil/resilience';
import pg from 'pg';
import { type ChainOptions, createChain } from './chain.js';
import { CHAIN, ItemsController, ServiceController } from './controllers.js';
import { VigilErrors } from './errors.js';

export interface App {
  app: INestApplication;
  /** Probes: what graceful shutdown fails readiness on. */
  health: ExpressHealth;
  close(): Promise<void>;
}

export interface AppOptions {
  /** PostgreSQL URL: when set, readiness checks the database (`SELECT 1`, 500 ms timeout). */
  databaseUrl?: string;
  /** The service's logger (default: `createLogger()`, JSON lines on stdout with trace ids). */
  logger?: Logger;
  /** Timeouts of `/chain`'s outbound client (see chain.ts). */
  chain?: ChainOptions;
}

@Module({})
class AppModule {
  static with(chain: unknown): DynamicModule {
    return {
      module: AppModule,
      controllers: [ServiceController, ItemsController],
      providers: [{ provide: CHAIN, useValue: chain }],
    };
  }
}

/** The example service: the one-liners (Nest's Express platform takes @vigil/express), then Nest. */
export async function createApp(options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ service: 'nest-basic' });
  const metrics = createExpressMetrics({ logger, defaultLabels: { service: 'nest-basic' } });
  // A connect timeout keeps a hung database from holding the readiness check's connection forever.
  const pool = options.databaseUrl
    ? new pg.Pool({ connectionString: options.databaseUrl, connectionTimeoutMillis: 2_000 })
    : undefined;
  const shedding = createExpressLoadShedding({ metrics });
  const checks = {
    ...(pool ? { postgres: postgresCheck(pool) } : {}),
    shedding: createLoadShedderCheck(shedding.shedder),
  };
  const health = createExpressHealth({ metrics, checks });
  const chain = createChain(metrics, options.chain); // resilient outbound client for /chain

  // Nest's own logger as JSON lines too, errors and warnings only (an unhandled error's stack).
  const app = await NestFactory.create(AppModule.with(chain), {
    logger: new ConsoleLogger({ json: true, logLevels: ['error', 'warn'] }),
  });
  app.use(shedding.middleware); // one line: load shedding, first (shed requests are counted apart)
  app.use(metrics.middleware); // one line: RED metrics on controller templates, spans, the request line
  app.use(health.middleware); // one line: /health /livez /ready /readyz /startup (never recorded)
  app.getHttpAdapter().get('/metrics', metrics.handler);
  app.useGlobalFilters(new VigilErrors(app.getHttpAdapter())); // errors on spans and request lines
  // URI versioning with the prefix `api/v`: ItemsController (version 1) answers /api/v1/items/:id.
  app.enableVersioning({ type: VersioningType.URI, prefix: 'api/v' });

  return {
    app,
    health,
    close: async () => {
      await chain.close();
      await shedding.close();
      await health.close();
      await metrics.close();
      await pool?.end();
    },
  };
}
