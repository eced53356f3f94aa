import express5 from 'express';
import express4 from 'express4';
import express417 from 'express417';

/**
 * The Express majors @vigil/express supports, for `describe.each`: each case runs against both.
 * `express4` is express@4 installed under an alias (typed as Express 5's API, which Express 4's
 * covers for what the tests use).
 */
export const MAJORS = [
  {
    name: 'Express 5',
    express: express5,
    /** Express 5 passes a rejected promise of a handler to the error handlers; Express 4 does not. */
    asyncErrors: true,
    /** A catch-all path segment in each major's syntax. */
    splat: '*splat',
  },
  { name: 'Express 4', express: express4, asyncErrors: false, splat: '*' },
] as const;

export type Major = (typeof MAJORS)[number];

/**
 * The majors plus the oldest Express 4 supported (4.17, with path-to-regexp 0.1.7 where 4.22 has
 * 0.1.13): the route-template cases, which read the router's internals, run on all three.
 */
export const ROUTERS = [
  ...MAJORS,
  { name: 'Express 4.17', express: express417, asyncErrors: false, splat: '*' },
] as const;
