import { createTestEnv, startGateway } from './support/gateway.ts';
const t = await createTestEnv({ LOG_LEVEL: 'info', PORT: '39000' });
const g = await startGateway(t.env);
console.log(JSON.stringify({ endpoint: g.endpoint, creds: t.creds }));
