#!/usr/bin/env node
// OTLP/HTTP sink for the tracing suite: answers 200 to every POST and discards the body, counting
// requests and bytes (GET /stats). Prints {"port"}; exits when its stdin closes.
import http from 'node:http';

const stats = { requests: 0, bytes: 0 };
const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(JSON.stringify(stats));
    return;
  }
  stats.requests++;
  req.on('data', (c) => {
    stats.bytes += c.length;
  });
  req.on('end', () => {
    res.setHeader('content-type', String(req.headers['content-type'] ?? 'application/json'));
    res.end(String(req.headers['content-type']).includes('json') ? '{}' : '');
  });
});
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`),
);
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
