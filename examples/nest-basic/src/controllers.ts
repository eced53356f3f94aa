import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Chain } from './chain.js';

/** The injection token of `/chain`'s outbound client. */
export const CHAIN = Symbol('chain');

const clamp = (raw: string | undefined, max: number) => Math.min(Math.max(Number(raw) || 0, 0), max);

@Controller()
export class ServiceController {
  constructor(@Inject(CHAIN) private readonly chain: Chain) {}

  @Get('users/:id')
  user(@Param('id') id: string) {
    return { id, name: `user ${id}` };
  }

  @Get('slow')
  async slow(@Query('ms') ms?: string) {
    const waited = clamp(ms, 30_000);
    await new Promise((r) => setTimeout(r, waited));
    return { waited };
  }

  // Keeps the CPU busy for ms (at most 1000), then answers: overload the service and watch it shed.
  @Get('cpu')
  cpu(@Query('ms') ms?: string) {
    const busyMs = clamp(ms, 1_000);
    const end = performance.now() + busyMs;
    while (performance.now() < end) {}
    return { busyMs };
  }

  // Nest answers 500; VigilErrors (errors.ts) puts the error on the request's span and line.
  @Get('error')
  error(): never {
    throw new Error('boom');
  }

  // Calls URL and answers with its status and body, so one trace crosses two services (try it with
  // express-basic). A demo route: do not expose an open fetch proxy in production.
  @Get('chain')
  async chainTo(@Query('to') to: string | undefined, @Res() res: Response) {
    if (typeof to !== 'string' || !/^https?:\/\//.test(to)) {
      res.status(400).json({ error: 'query parameter "to" must be an http(s) URL' });
      return;
    }
    const upstream = await this.chain.get(new URL(to));
    res.status(upstream.status).type(upstream.contentType).send(upstream.body);
  }
}

/** `/api/v1/items/:id`: URI version 1 under the `api/v` version prefix (see app.ts). */
@Controller({ path: 'items', version: '1' })
export class ItemsController {
  @Get(':id')
  item(@Param('id') id: string) {
    return { id };
  }
}
