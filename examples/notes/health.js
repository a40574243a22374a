// Health check in exec form (the image has no shell and no curl):
// exit 0 when GET /health on the local port answers 200.
'use strict';

const http = require('http');

const req = http.get({ host: '127.0.0.1', port: Number(process.env.PORT || 3000), path: '/health', timeout: 3000 },
                     (res) => process.exit(res.statusCode === 200 ? 0 : 1));
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
