import { app, type HttpResponseInit } from '@azure/functions';

/** Name of the liveness endpoint (`GET /api/health`). */
export const HEALTH_FUNCTION = 'health';

app.http(HEALTH_FUNCTION, {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'health',
  handler: async (): Promise<HttpResponseInit> => ({ status: 200, jsonBody: { status: 'ok' } }),
});
