import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHost, type LocalHost } from '../../../devhost/host';
import { F, type ClientOp } from '../../fixtures/devhost-app';
import { probe } from '../../fixtures/devhost-app/probe';

interface CheckStatusPayload {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
}

describe('local host over HTTP: triggers, the check-status response, and the durable client API', () => {
  let host: LocalHost;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'devhost-http-'));
    host = await startHost({
      appEntry: path.join(__dirname, '../../fixtures/devhost-app'),
      port: 0,
      stateDir,
    });
  });
  afterAll(async () => {
    await host?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const clientOp = async (op: ClientOp): Promise<Response> =>
    fetch(`${host.url}/api/client-ops`, { method: 'POST', body: JSON.stringify(op) });

  const pollUntilDone = async (uri: string): Promise<Response> => {
    for (let i = 0; i < 500; i++) {
      const res = await fetch(uri);
      if (res.status !== 202) return res;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`${uri} still answers 202`);
  };

  it('serves an HTTP starter whose 202 check-status response leads to the completed output', async () => {
    const started = await fetch(`${host.url}/api/orchestrators/${F.sequence}`, {
      method: 'POST',
      body: JSON.stringify(['Oslo', 'Lima']),
    });
    expect(started.status).toBe(202);
    const payload = (await started.json()) as CheckStatusPayload;
    expect(started.headers.get('location')).toBe(payload.statusQueryGetUri);
    expect(
      payload.statusQueryGetUri.startsWith(
        `${host.url}/runtime/webhooks/durabletask/instances/${payload.id}`,
      ),
    ).toBe(true);
    const done = await pollUntilDone(payload.statusQueryGetUri);
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({
      instanceId: payload.id,
      runtimeStatus: 'Completed',
      output: ['Hello Oslo!', 'Hello Lima!'],
    });
  });

  it('answers 202 while running, then raises the event and terminates through the management URLs', async () => {
    const started = await fetch(`${host.url}/api/orchestrators/${F.approval}?id=mgmt-1`, { method: 'POST' });
    const payload = (await started.json()) as CheckStatusPayload;
    expect(payload.id).toBe('mgmt-1');
    const running = await fetch(payload.statusQueryGetUri);
    expect(running.status).toBe(202);
    const raise = await fetch(payload.sendEventPostUri.replace('{eventName}', 'approve'), {
      method: 'POST',
      body: JSON.stringify({ approvedBy: 'webhook' }),
    });
    expect(raise.status).toBe(202);
    const done = await pollUntilDone(payload.statusQueryGetUri);
    expect(((await done.json()) as { output: unknown }).output).toEqual({ approvedBy: 'webhook' });

    await fetch(`${host.url}/api/orchestrators/${F.approval}?id=mgmt-2`, { method: 'POST' });
    const second = (await (await clientOp({ op: 'payload', id: 'mgmt-2' })).json()) as CheckStatusPayload;
    const terminated = await fetch(second.terminatePostUri.replace('{text}', 'no%20longer%20needed'), {
      method: 'POST',
    });
    expect(terminated.status).toBe(202);
    const final = await pollUntilDone(second.statusQueryGetUri);
    expect(final.status).toBe(400);
    expect(await final.json()).toMatchObject({ runtimeStatus: 'Terminated', output: 'no longer needed' });
    expect((await fetch(second.terminatePostUri, { method: 'POST' })).status).toBe(410);
    expect((await fetch(second.purgeHistoryDeleteUri, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(second.statusQueryGetUri)).status).toBe(404);
  });

  it('refuses to start a second run of a running instance id (409 from the extension API, so the starter fails)', async () => {
    await fetch(`${host.url}/api/orchestrators/${F.approval}?id=once`, { method: 'POST' });
    const direct = await fetch(`${host.url}/runtime/webhooks/durabletask/orchestrators/${F.approval}/once`, {
      method: 'POST',
    });
    expect(direct.status).toBe(409);
    expect(((await direct.json()) as { error: string }).error).toContain(
      "instance ID 'once' is already Running",
    );
    const again = await fetch(`${host.url}/api/orchestrators/${F.approval}?id=once`, { method: 'POST' });
    expect(again.status).toBe(500);
    await host.client.terminate('once', 'done');
  });

  it('serves the durable client SDK over its rpcBaseUrl: status with history, query, raise, terminate, purge', async () => {
    const from = new Date();
    const id = await host.client.start(F.approval, { instanceId: 'rpc-1' });
    await host.client.start(F.sequence, { instanceId: 'rpc-2', input: ['a'] });
    await host.client.waitForCompletion('rpc-2');

    const status = (await (await clientOp({ op: 'status', id, showHistory: true })).json()) as {
      runtimeStatus: string;
      customStatus: unknown;
      history: { EventType: string }[];
    };
    expect(status.runtimeStatus).toBe('Running');
    expect(status.customStatus).toEqual({ phase: 'awaiting approval' });
    expect(status.history[0].EventType).toBe('OrchestratorStarted');

    const listed = (await (
      await clientOp({
        op: 'list',
        runtimeStatus: ['Completed' as never],
        createdTimeFrom: from.toISOString(),
      })
    ).json()) as { instanceId: string }[];
    expect(listed.map((s) => s.instanceId)).toEqual(['rpc-2']);

    expect((await clientOp({ op: 'raise', id, event: 'approve', data: { approvedBy: 'rpc' } })).status).toBe(
      202,
    );
    expect((await host.client.waitForCompletion(id)).output).toEqual({ approvedBy: 'rpc' });

    await host.client.start(F.approval, { instanceId: 'rpc-3' });
    expect((await clientOp({ op: 'terminate', id: 'rpc-3', reason: 'stop' })).status).toBe(202);
    expect((await host.client.waitForCompletion('rpc-3')).runtimeStatus).toBe('Terminated');

    expect(await (await clientOp({ op: 'purge', id: 'rpc-2' })).json()).toEqual({ instancesDeleted: 1 });
    expect(await host.client.status('rpc-2')).toBeUndefined();
    expect((await clientOp({ op: 'status', id: 'rpc-2' })).status).toBe(500);
  });

  it('passes route params, query, headers and binary bodies to app.http and returns status, headers, cookies', async () => {
    const res = await fetch(`${host.url}/api/echo/42/a/b.txt?x=1&y=two`, {
      method: 'POST',
      headers: { 'x-probe': 'hi', 'content-type': 'application/octet-stream' },
      body: Buffer.from([7, 8, 9]),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-echo')).toBe('hi');
    expect(res.headers.get('set-cookie')).toBe('seen=42; Path=/');
    expect(await res.json()).toEqual({
      method: 'POST',
      params: { id: '42', rest: 'a/b.txt' },
      query: { x: '1', y: 'two' },
      contentType: 'application/octet-stream',
      length: 3,
      firstByte: 7,
      text: null,
    });
    const text = await fetch(`${host.url}/api/echo/7`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'héllo',
    });
    expect(await text.json()).toMatchObject({ params: { id: '7' }, text: 'héllo' });
    expect((await fetch(`${host.url}/api/echo/7`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${host.url}/api/nothing-here`)).status).toBe(404);
  });

  it('invokes a timer trigger on demand through the admin API', async () => {
    const before = probe.ticks;
    expect((await fetch(`${host.url}/admin/functions/tick`, { method: 'POST', body: '{}' })).status).toBe(
      202,
    );
    expect(probe.ticks).toBe(before + 1);
  });
});
