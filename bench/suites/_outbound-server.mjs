// The downstream of the outbound suite: a keep-alive JSON server in its own process, so its CPU is
// not counted as the client's. Sends its port to the parent.
import http from 'node:http';

const body = JSON.stringify({ id: 1, name: 'Ada' });
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.(server.address().port));
process.on('disconnect', () => process.exit(0));
