import {
  UPLOAD_CHUNK_UNIT,
  sendUploadSession,
  type UploadSessionOptions,
} from '../../../core/graph/uploadSession';

/** An upload session in memory: takes fragments in order, answers 416 to one it already has. */
function session(total: number, loseAnswers: number[] = []) {
  const received: Buffer[] = [];
  let next = 0;
  const sent: string[] = [];
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    if (init.method === 'GET')
      return new Response(JSON.stringify({ nextExpectedRanges: [`${next}-${total - 1}`] }), { status: 200 });
    const range = /bytes (\d+)-(\d+)\/(\d+)/.exec(
      String((init.headers as Record<string, string>)['Content-Range']),
    )!;
    const [start, end] = [Number(range[1]), Number(range[2])];
    sent.push(`${start}-${end}`);
    if (start !== next) return new Response('{}', { status: 416 });
    received.push(Buffer.from(init.body as Uint8Array));
    next = end + 1;
    if (loseAnswers.includes(start)) throw new TypeError('fetch failed: socket hang up');
    return next === total
      ? new Response(JSON.stringify({ id: 'item', name: 'f.bin' }), { status: 201 })
      : new Response(JSON.stringify({ nextExpectedRanges: [`${next}-`] }), { status: 202 });
  }) as unknown as typeof fetch;
  return { fetchImpl, received, sent };
}

const policy = (resync: boolean, fetchImpl: typeof fetch): UploadSessionOptions => ({
  chunkBytes: UPLOAD_CHUNK_UNIT,
  fetch: fetchImpl,
  sleep: () => Promise.resolve(),
  resync,
  retryDelay: (_failure, attempt) => (attempt > 3 ? undefined : 1),
  giveUp: (_failure, attempts) => new Error(`gave up after ${attempts}`),
});

describe('sendUploadSession', () => {
  const bytes = Buffer.alloc(2 * UPLOAD_CHUNK_UNIT + 100);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 253;
  const u = UPLOAD_CHUNK_UNIT;

  it('resumes where the session expects after a lost answer: a re-sent fragment gets 416, then the next one goes', async () => {
    const s = session(bytes.length, [0]);
    expect(await sendUploadSession('https://upload', bytes, policy(false, s.fetchImpl))).toMatchObject({
      id: 'item',
    });
    expect(Buffer.concat(s.received).equals(bytes)).toBe(true);
    expect(s.sent).toEqual([`0-${u - 1}`, `0-${u - 1}`, `${u}-${2 * u - 1}`, `${2 * u}-${bytes.length - 1}`]);
  });

  it('with resync, asks the session first and sends each byte once', async () => {
    const s = session(bytes.length, [u]);
    await sendUploadSession('https://upload', bytes, policy(true, s.fetchImpl));
    expect(Buffer.concat(s.received).equals(bytes)).toBe(true);
    expect(s.sent).toEqual([`0-${u - 1}`, `${u}-${2 * u - 1}`, `${2 * u}-${bytes.length - 1}`]);
  });

  it("gives up as the caller's policy says, and refuses a fragment size that is not a multiple of 320 KiB", async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    await expect(sendUploadSession('https://upload', bytes, policy(false, failing))).rejects.toThrow(
      'gave up after 4',
    );
    await expect(
      sendUploadSession('https://upload', bytes, { ...policy(false, failing), chunkBytes: 1000 }),
    ).rejects.toThrow(/multiple of 320 KiB/);
  });
});
