// Docker HEALTHCHECK (app.healthCommand: ["node", "/app/healthcheck.js"]): exit 0 only on a 200 from the
// readiness path on loopback.
'use strict';

const http = require('node:http');

const req = http.get(
  { host: '127.0.0.1', port: Number(process.env.APP_PORT || 8000), path: process.env.APP_HEALTH_PATH || '/health/ready', timeout: 2000 },
  (res) => process.exit(res.statusCode === 200 ? 0 : 1),
);
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => {
  console.log(`unhealthy: ${err.message}`);
  process.exit(1);
});
