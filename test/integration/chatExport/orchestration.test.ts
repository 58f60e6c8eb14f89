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
    expect(status.customStatus).toEqual({ phase: 'done', chatsDone: 10, chatsTotal: 10, pages: 1 });
  });

  it('goes through thousands of chats a page at a time, continuing as new so no execution holds them all', async () => {
    script.chats = 1234;
    script.pageSize = 50;
    const id = await host.client.start(ChatExportOrchestrator.exportUserChats, {
      input: { userId: 'u1', mode: 'full', concurrency: 8 },
    });
    const status = await host.client.waitForCompletion(id, 120_000);
    expect(status.runtimeStatus).toBe('Completed');
    const pages = Math.ceil(1234 / 50);
    expect(script.pagesListed).toBe(pages);
    expect(new Set(script.exported).size).toBe(1234);
    expect(script.exported).toHaveLength(1234);
    expect(script.finished!.totals).toMatchObject({
      chats: 1234,
      uploaded: 1234,
      failed: 0,
      addedMessages: 1234,
    });
    expect(status.customStatus).toEqual({ phase: 'done', chatsDone: 1234, chatsTotal: 1234, pages });
    const history = (await host.client.status(id, { showHistory: true }))!.history ?? [];
    const scheduled = history.filter((e) =>
      /TaskScheduled/.test(String((e as { EventType?: unknown }).EventType)),
    );
    expect(scheduled.length).toBeLessThanOrEqual(50 + 2);
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
    expect(script.finished!.totals).toMatchObject({ chats: 5, failed: 1, uploaded: 4 });
    expect(script.finished!.totals.failures).toEqual([
      "Chat 3.html: Activity function 'chatExportExportChat' failed: storage unavailable",
    ]);
  });
});
