// A second sample app, in Node.js with no dependencies: the contract bluegreen
// deploys (docs/apps.md), kept by an app that shares no code with the Python one.
//
// - listens on APP_PORT (all interfaces: the router reaches it on the stack network);
// - GET APP_HEALTH_PATH answers 200 while it serves, 503 once it drains;
// - on SIGTERM it keeps serving for APP_DRAIN_DELAY_SECONDS (default 1), then stops
//   taking connections, answers what it was sent, closes idle kept-alive
//   connections, and exits before `app.stopGraceSeconds`;
// - writes nothing to disk (the root filesystem is read-only), runs as any uid.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

const port = Number(process.env.APP_PORT || 8000);
const healthPath = process.env.APP_HEALTH_PATH || '/health/ready';
const color = process.env.APP_COLOR || 'unknown';
const version = process.env.APP_VERSION || '0.0.0';
const MAX_BODY = 64 * 1024;
let draining = false;

function answer(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-app-color': color,
    'x-app-version': version,
  });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === healthPath) {
    return answer(res, draining ? 503 : 200, { status: draining ? 'draining' : 'ready' });
  }
  if (req.method === 'GET' && path === '/health/live') {
    return answer(res, 200, { status: 'alive' });
  }
  if (req.method === 'GET' && path === '/') {
    return answer(res, 200, { color, version, runtime: `node ${process.versions.node}` });
  }
  if (req.method === 'POST' && path === '/echo') {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return answer(res, 413, { error: `body: got ${size} bytes; allowed: at most ${MAX_BODY}` });
      const sha256 = crypto.createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
      return answer(res, 200, { received: size, sha256, color, version });
    });
    return undefined;
  }
  return answer(res, 404, { error: `no route for ${req.method} ${path}` });
});

// Longer than the router's upstream keep-alive (router.edge.upstreamKeepaliveSeconds, 4 s), so the router
// always closes an idle connection first and never sends a request on one this side is closing.
server.keepAliveTimeout = 10_000;

// Under Swarm a stopping task is signalled 2 s after it leaves DNS, and the router re-resolves
// names every 2 s: it may still send here for a moment after SIGTERM, so keep serving first.
const drainDelayMs = Number(process.env.APP_DRAIN_DELAY_SECONDS ?? 1) * 1000;

function drain(signal) {
  if (draining) return; // readiness answers 503 from now on
  draining = true;
  console.log(JSON.stringify({ event: 'draining', signal, color, version }));
  setTimeout(() => {
    server.close(() => process.exit(0)); // stops accepting; calls back once every connection has ended
    server.closeIdleConnections(); // idle kept-alive connections end now, busy ones after their answer
    setInterval(() => server.closeIdleConnections(), 200).unref();
  }, drainDelayMs);
}

process.on('SIGTERM', () => drain('SIGTERM'));
process.on('SIGINT', () => drain('SIGINT'));

server.listen(port, '0.0.0.0', () => {
  console.log(JSON.stringify({ event: 'listening', port, color, version, node: process.versions.node }));
});
