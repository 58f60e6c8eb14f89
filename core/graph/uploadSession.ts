/** Upload-session fragments must be multiples of 320 KiB (all but the last). */
export const UPLOAD_CHUNK_UNIT = 320 * 1024;

/** A request to the upload URL that did not succeed: the network error, or the answer. */
export interface UploadFailure {
  error?: unknown;
  response?: Response;
}

/** How sendUploadSession sends fragments and handles failures; each caller keeps its own policy. */
export interface UploadSessionOptions {
  /** Fragment size, a positive multiple of 320 KiB. */
  chunkBytes: number;
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  /**
   * The wait before trying a fragment again after its `attempt`-th failure (a network error or an answer
   * other than 200/201/202/416), or undefined to give up. Answers are not read before this is asked.
   */
  retryDelay(failure: UploadFailure, attempt: number): number | undefined;
  /** After a retried failure, ask the session which byte it expects next instead of re-sending the fragment. */
  resync: boolean;
  /** The error to throw when a fragment is given up on (`attempts` tries made). */
  giveUp(failure: UploadFailure, attempts: number): Promise<Error> | Error;
}

interface SessionStatus {
  nextExpectedRanges?: string[];
}

const nextOffset = (status: SessionStatus, fallback: number): number => {
  const start = parseInt(status.nextExpectedRanges?.[0] ?? '', 10);
  return Number.isInteger(start) ? start : fallback;
};

async function expectedOffset(uploadUrl: string, fetchImpl: typeof fetch, fallback: number): Promise<number> {
  try {
    const response = await fetchImpl(uploadUrl, { method: 'GET' });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      return fallback;
    }
    return nextOffset((await response.json()) as SessionStatus, fallback);
  } catch {
    return fallback;
  }
}

/**
 * Sends a file's bytes to an upload session's pre-authenticated URL (never with a token): sequential
 * `Content-Range` fragments of `chunkBytes`, resuming where the session's `nextExpectedRanges` says after a
 * 202 or a 416 (a fragment sent twice after a lost answer), retrying failures as the caller's policy says.
 * Resolves to the driveItem JSON the last fragment answers with.
 */
export async function sendUploadSession(
  uploadUrl: string,
  bytes: Buffer,
  options: UploadSessionOptions,
): Promise<unknown> {
  const { chunkBytes, fetch: fetchImpl } = options;
  if (chunkBytes <= 0 || chunkBytes % UPLOAD_CHUNK_UNIT !== 0)
    throw new RangeError(
      `Upload chunk size ${chunkBytes} is not a positive multiple of 320 KiB (${UPLOAD_CHUNK_UNIT} bytes).`,
    );
  const total = bytes.length;
  const maxRequests = Math.ceil(total / chunkBytes) * 3 + 10;
  let offset = 0;
  let attempt = 0;
  for (let requests = 0; requests < maxRequests; requests++) {
    const end = Math.min(offset + chunkBytes, total);
    let failure: UploadFailure;
    try {
      const response = await fetchImpl(uploadUrl, {
        method: 'PUT',
        headers: {
          'Content-Length': String(end - offset),
          'Content-Range': `bytes ${offset}-${end - 1}/${total}`,
        },
        body: bytes.subarray(offset, end),
      });
      if (response.status === 200 || response.status === 201) return await response.json();
      if (response.status === 202 || response.status === 416) {
        offset =
          response.status === 202
            ? nextOffset((await response.json()) as SessionStatus, end)
            : (await response.body?.cancel().catch(() => undefined),
              await expectedOffset(uploadUrl, fetchImpl, offset));
        attempt = 0;
        if (offset >= total)
          throw new Error('the upload session expects no more bytes but did not return the file');
        continue;
      }
      failure = { response };
    } catch (error) {
      if (error instanceof Error && /expects no more bytes/.test(error.message)) throw error;
      failure = { error };
    }
    attempt++;
    const delay = options.retryDelay(failure, attempt);
    if (delay === undefined) throw await options.giveUp(failure, attempt);
    await failure.response?.body?.cancel().catch(() => undefined);
    await options.sleep(delay);
    if (options.resync) offset = await expectedOffset(uploadUrl, fetchImpl, offset);
  }
  throw new Error(`the upload session made no progress after ${maxRequests} requests`);
}
