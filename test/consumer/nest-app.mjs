// (f) A NestJS app (ESM, Express platform) in a project that installed the tarballs next to
// @nestjs/core, common and platform-express (11 or 12) and nothing else: @vigil/express through
// app.use(), templates with global prefix and URI version, exception filters' statuses, probes,
// and @vigil/shutdown draining the Nest app and running its lifecycle hooks once.
// Decorators applied as functions: the same metadata a TypeScript build writes.

import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Controller, Get, Module, NotFoundException, Param, VersioningType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createExpressHealth, createExpressMetrics, createShutdown } from '@vigil/express';
import helpers from './helpers.cjs';

const { check, ok, parseSamples, watchdog } = helpers;
const nestVersion = createRequire(import.meta.url)('@nestjs/core/package.json').version;

watchdog(30_000, 'nest app');

const decorate = (proto, name, decorators, params = []) => {
  for (const [index, d] of params) d(proto, name, index);
  const desc = Object.getOwnPropertyDescriptor(proto, name);
  for (const d of decorators.slice().reverse()) d(proto, name, desc);
};

const hookCalls = [];
class UsersController {
  get(id) {
    if (id === '0') throw new NotFoundException();
    return { id };
  }
  onApplicationShutdown(signal) {
    hookCalls.push(signal);
  }
}
Controller({ path: 'users', version: '1' })(UsersController);
decorate(UsersController.prototype, 'get', [Get(':id')], [[0, Param('id')]]);
class AppModule {}
Module({ controllers: [UsersController] })(AppModule);

helpers.runMain(async () => {
  const app = await NestFactory.create(AppModule, { logger: false });
  const metrics = createExpressMetrics();
  const health = createExpressHealth({ metrics });
  app.use(metrics.middleware);
  app.use(health.middleware);
  app.getHttpAdapter().get('/metrics', metrics.handler);
  app.setGlobalPrefix('api');
  app.enableVersioning({ type: VersioningType.URI });
  await app.listen(0, '127.0.0.1');
  let exitCode;
  const shutdown = createShutdown({
    servers: [app],
    health,
    drainDelayMs: 0,
    signals: [],
    logger: false,
    exit: (code) => {
      exitCode = code;
    },
  });
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  for (const [p, want] of [
    ['/api/v1/users/1', 200],
    ['/api/v1/users/2', 200],
    ['/api/v1/users/0', 404],
    ['/no-such-page/42', 404],
    ['/livez', 200],
  ]) {
    const r = await fetch(base + p);
    check(r.status === want, `GET ${p} answered ${r.status}, expected ${want}`);
  }
  const text = await (await fetch(`${base}/metrics`)).text();
  const samples = parseSamples(text).filter((s) => s.name === 'http_requests_total');
  const find = (route, status) =>
    samples.find((s) => s.labels.route === route && s.labels.status_code === status);
  const users = find('/api/v1/users/:id', '200');
  check(users?.value === 2, `no series for the controller template:\n${text.slice(0, 3000)}`);
  check(find('/api/v1/users/:id', '404')?.value === 1, 'the NotFoundException is not counted as 404');
  check(find('__unmatched__', '404')?.value === 1, 'the unknown path is not __unmatched__');
  check(!samples.some((s) => /users\/\d|no-such-page|livez/.test(s.labels.route)), 'raw paths in labels');
  ok(`nest ${nestVersion}: ${users.line}`);
  const code = await shutdown.trigger('consumer-check');
  check(code === 0 && exitCode === 0, `shutdown exited with ${code}`);
  check(hookCalls.length === 1, `onApplicationShutdown ran ${hookCalls.length} times`);
  ok(`nest ${nestVersion}: createShutdown({ servers: [app] }) drained, Nest hooks ran once, exit 0`);
});
