// A Nest app (argv: major 11|12, platform express|fastify) shut down by @vigil/shutdown on a real
// SIGTERM. Reports events as JSON lines on stdout; stdin `drained` ends the drain (drainUntil), so
// the test waits for events, never for time.
import { createInterface } from 'node:readline';
import { startNestApp } from './app.mjs';

const [major, platform] = process.argv.slice(2);
const nest = await import(`./nest${major}/index.mjs`);
const emit = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

let drained;
const drainedSignal = new Promise((r) => {
  drained = r;
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'drained') drained();
});

const { app, port, health, release } = await startNestApp(nest, platform, {
  hooks: {
    onHang: () => emit('hang-entered'),
    onModuleDestroy: () => emit('onModuleDestroy'),
    beforeApplicationShutdown: (signal) => emit('beforeApplicationShutdown', { signal }),
    onApplicationShutdown: (signal) => emit('onApplicationShutdown', { signal }),
  },
});
const shutdown = nest.vigilExpress.createShutdown({
  servers: [app], // the Nest app: its server is drained, then app.close(signal) runs its hooks
  health,
  drainUntil: () => drainedSignal,
  exit: (code) => {
    emit('exit', { code });
    process.exit(code);
  },
});
shutdown.onStateChange((state) => {
  emit('state', { state });
  // The listener is closed now; the request in flight must still complete.
  if (state === 'stopping') release();
});
emit('listening', { port });
