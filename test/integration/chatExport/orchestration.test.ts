import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChatExportOrchestrator } from '../../../activities/chatExportNames';
import { startHost, type LocalHost } from '../../../devhost/host';
import { script } from './fixture';

describe('exportUserChats on the local host with scripted activities (virtual clock)', () => {
  let host: LocalHost;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'chat-export-orch-'));
    host = await startHost({
      appEntry: path.join(__dirname, 'fixture'),
      port: 0,
      stateDir,
      clock: 'virtual',
      activityConcurrency: 10,
    });
  });
  afterAll(async () => {
    await host?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  beforeEach(() => script.reset());

  const run = async (concurrency: number) => {
    const id = await host.client.start(ChatExportOrchestrator.exportUserChats, {
      input: { userId: 'u1', mode: 'full', concurrency },
    });
    return host.client.waitForCompletion(id, 30_000);
  };

  it('exports every chat with at most `concurrency` activities in flight', async () => {
    const status = await run(4);
    expect(status.runtimeStatus).toBe('Completed');
    expect(script.exported.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `chat-${i}`).sort());
    expect(script.maxInFlight).toBe(4);
    expect(status.output).toEqual({ id: 'u1', status: 'exported' });
    expect(status.customStatus).toEqual({ phase: 'done', chatsDone: 10, chatsTotal: 10 });
  });

  it('stops scheduling chats once the consent is gone and reports it', async () => {
    script.consentGoneAt = 0;
    const status = await run(1);
    expect(script.exported).toEqual(['chat-0']);
    expect(status.output).toEqual({ id: 'u1', status: 'consent-needed' });
  });

  it('records a chat whose activity keeps failing as failed and still finishes the pass', async () => {
    script.throwAt = 3;
    script.chats = 5;
    const status = await run(2);
    expect(status.runtimeStatus).toBe('Completed');
    const failed = script.finished!.outcomes.filter((o) => o.kind === 'done' && o.result.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(JSON.stringify(failed[0])).toContain('storage unavailable');
  });
});
