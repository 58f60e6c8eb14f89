import { createGraphClient } from '../../core/graph/client';
import type { ImportMessageBody } from '../../core/graph/messageBody';
import { channelKeyOfUrl, channelPacingKey, Pacer } from '../../core/graph/pacing';
import { TeamsImportClient } from '../../core/graph/teamsImport';
import { sandboxUserFor, startSandbox } from '../../sandbox';
import { channelPaces, round, throttleCauses } from './metrics';

/** Something that paces message POSTs per channel and app: the product's Pacer or a variant. */
export interface ChannelPacer {
  acquire(channelKey: string): Promise<void>;
  throttled(channelKey: string | undefined, delayMs: number): void;
}

/** What one probe run measured. */
export interface ProbeResult {
  variant: string;
  channels: number;
  messagesPerChannel: number;
  seconds: number;
  /** seconds / ((messagesPerChannel - 1) / 5): 1.0 is the per-channel limit exactly. */
  overIdeal: number;
  throttled: { channel: number; global: number };
  /** For each 429, ms since the POST five admissions earlier in its channel. */
  windowGapsMs: number[];
  lostSecondsAfter429: number;
}

/**
 * Posts `messagesPerChannel` messages into each of `channels` channels of a fresh sandbox at the real limits,
 * through the product's Graph client and the given pacer, with one request in flight per channel (as the
 * posting activity does) and no host, ledger or Durable work in between: isolates the pacing from the rest.
 */
export async function probePacing(
  variant: string,
  pacer: ChannelPacer,
  channels: number,
  messagesPerChannel: number,
): Promise<ProbeResult> {
  const author = sandboxUserFor('probe.author@sandbox.local', 'Probe Author');
  const sandbox = await startSandbox({ users: [author], ratePerChannel: 5, rateGlobal: 50, timeScale: 1 });
  try {
    const handle = createGraphClient({
      baseUrl: sandbox.url,
      staticToken: 'local',
      onThrottled: (signal) => {
        const key = channelKeyOfUrl(signal.url);
        if (key !== undefined) pacer.throttled(key, signal.delayMs);
      },
    });
    const graph = new TeamsImportClient(handle);
    const created = '2020-01-01T00:00:00.000Z';
    const team = await graph.createTeamInMigration({
      displayName: 'Pacing probe',
      description: '',
      createdDateTime: created,
    });
    while ((await graph.getOperation(team.operationUrl)).status !== 'succeeded')
      await new Promise((resolve) => setTimeout(resolve, 200));
    const ids: string[] = [];
    for (let c = 0; c < channels; c++)
      ids.push(
        (
          await graph.createChannelInMigration(team.teamId, {
            displayName: `probe-${c}`,
            description: '',
            createdDateTime: created,
          })
        ).id,
      );
    const started = performance.now();
    await Promise.all(
      ids.map(async (channelId) => {
        for (let i = 0; i < messagesPerChannel; i++) {
          const body: ImportMessageBody = {
            createdDateTime: new Date(Date.parse('2020-01-02T00:00:00Z') + i * 1000).toISOString(),
            from: {
              user: {
                id: author.id,
                displayName: author.displayName ?? 'Probe',
                userIdentityType: 'aadUser',
              },
            },
            body: { contentType: 'html', content: `<p>message ${i} deploy build test review merge</p>` },
          };
          await pacer.acquire(channelPacingKey(team.teamId, channelId));
          await graph.postMessage(team.teamId, channelId, body);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const log = sandbox.requestLog();
    const causes = throttleCauses(log, 5);
    const paces = channelPaces(log, 5);
    return {
      variant,
      channels,
      messagesPerChannel,
      seconds: round(seconds, 1),
      overIdeal: round(seconds / ((messagesPerChannel - 1) / 5)),
      throttled: { channel: causes.channel, global: causes.global },
      windowGapsMs: causes.windowGapsMs,
      lostSecondsAfter429: round(
        paces.reduce((a, p) => a + p.lostSeconds.after429, 0),
        1,
      ),
    };
  } finally {
    await sandbox.stop();
  }
}

/** The product's Pacer as the app configures it (5/s per channel, 50/s per app, 10 ms margin per window). */
export function productPacer(): ChannelPacer {
  return new Pacer({ perChannelPerSecond: 5, globalPerSecond: 50 });
}
