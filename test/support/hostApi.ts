import type { LocalHost } from '../../devhost/host';

/**
 * Calls of a local host's HTTP API as an admin script makes them, and the wait for a migration's running pass
 * to end: `host` is read at each call, so the helper can be made before the host starts.
 */
export function hostApi<View>(host: () => LocalHost): {
  api(method: string, route: string, body?: unknown): Promise<{ status: number; body: View }>;
  settled(migrationId: string, timeoutMs?: number): Promise<View>;
} {
  const api = async (
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; body: View }> => {
    const res = await fetch(`${host().url}/api${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as View };
  };
  return {
    api,
    async settled(migrationId, timeoutMs = 180_000) {
      const status = await host().client.waitForCompletion(`migration-${migrationId}`, timeoutMs);
      if (status.runtimeStatus !== 'Completed')
        throw new Error(
          `Migration ${migrationId} ended ${status.runtimeStatus}: ${JSON.stringify(status.output)}`,
        );
      return (await api('GET', `/migrations/${migrationId}`)).body;
    },
  };
}
