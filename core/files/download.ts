import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Where Slack serves export files when no other base is configured (`SLACK_FILES_URL`). */
export const DEFAULT_SLACK_FILES_URL = 'https://files.slack.com';

/** Domains whose hosts serve Slack's files (`files.slack.com`, `slack.com/files-pri`, CDN and public links). */
export const SLACK_FILE_DOMAINS: readonly string[] = ['slack.com', 'slack-edge.com', 'slack-files.com'];

/** A hostname resolver: the addresses a name stands for (the system's DNS by default). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** How the downloader may reach Slack. */
export interface SlackFileDownloaderOptions {
  /** The base that `files.slack.com` URLs are rewritten onto (a rehearsal serves the files locally). */
  filesUrl?: string;
  /** A Slack bot token (`SLACK_TOKEN`), sent as `Authorization: Bearer` to Slack's hosts only. */
  botToken?: string;
  /** Largest file accepted, in bytes; a larger one fails with FileTooLargeError. */
  maxBytes: number;
  /** Longest one attempt may take, redirects, connection and body included. Default 5 minutes. */
  timeoutMs?: number;
  /** Attempts for transient failures (network, timeouts, 429, 5xx). Default 3. */
  attempts?: number;
  /** Redirects followed per attempt. Default 5. */
  maxRedirects?: number;
  resolve?: Resolver;
  sleep?: (ms: number) => Promise<void>;
}

/** Why a download failed, for the report: the address is shown without its query (which holds the token). */
export class DownloadError extends Error {
  constructor(
    message: string,
    /** Gone in Slack (404/410): the file becomes a notice, not a failure. */
    readonly missing = false,
    /** Worth another attempt (network, timeout, 429, 5xx). */
    readonly transient = false,
    /** The URL is not an https URL on Slack's file hosts: nothing was sent to it. */
    readonly notSlack = false,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** The file is larger than the size limit; `size` is its size when the server said it, else undefined. */
export class FileTooLargeError extends DownloadError {
  constructor(
    readonly limit: number,
    readonly size?: number,
  ) {
    super(
      size === undefined
        ? `the file is larger than the ${limit}-byte limit`
        : `the file is ${size} bytes, over the ${limit}-byte limit`,
    );
    this.name = 'FileTooLargeError';
  }
}

/** A URL as it may appear in errors and logs: origin and path, never the query or credentials. */
export function safeUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/** Whether a hostname belongs to one of Slack's file domains. */
export function isSlackFileHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return SLACK_FILE_DOMAINS.some((d) => host === d || host.endsWith(`.${d}`));
}

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED.addSubnet(net, prefix, 'ipv6');

/** Whether an address is private, loopback, link-local or otherwise not a public host. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family === 6) return BLOCKED.check(address, 'ipv6');
  return true;
}

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Downloads Slack files with the least trust: https only, to Slack's file hosts only (plus the configured
 * rehearsal base), each redirect re-checked, addresses that resolve to private, loopback or link-local
 * networks refused (the rehearsal base excepted), a size cap and a time cap. The export's own file token
 * travels in the URL it came with; a bot token goes as `Authorization: Bearer`, and only to Slack's hosts.
 * No error message or log line carries a URL's query.
 */
export class SlackFileDownloader {
  private readonly base: URL;
  private readonly rehearsalOrigin?: string;
  private readonly resolve: Resolver;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: SlackFileDownloaderOptions) {
    this.base = new URL(options.filesUrl ?? DEFAULT_SLACK_FILES_URL);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:')
      throw new Error(`SLACK_FILES_URL '${safeUrl(this.base)}' must be an http(s) URL`);
    if (this.base.origin !== DEFAULT_SLACK_FILES_URL) this.rehearsalOrigin = this.base.origin;
    this.resolve = options.resolve ?? systemResolver;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** The URL a source URL is fetched from: `files.slack.com` moved onto the configured base. */
  target(sourceUrl: string): URL {
    const url = new URL(sourceUrl);
    if (url.hostname.toLowerCase() !== 'files.slack.com' || !this.rehearsalOrigin) return url;
    const prefix = this.base.pathname.replace(/\/+$/, '');
    return new URL(`${this.base.origin}${prefix}${url.pathname}${url.search}`);
  }

  /**
   * Downloads one file. `expectedType` is the MIME type Slack gave the file: an HTML page in its place
   * (Slack's sign-in page when a token is refused) fails as refused. Transient failures are retried.
   */
  async download(sourceUrl: string, expectedType?: string): Promise<Buffer> {
    const attempts = this.options.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchOnce(this.target(sourceUrl), expectedType);
      } catch (err) {
        const transient = err instanceof DownloadError ? err.transient : true;
        if (!transient || attempt >= attempts)
          throw err instanceof DownloadError
            ? err
            : new DownloadError(`${safeUrl(sourceUrl)}: ${(err as Error).message}`);
        await this.sleep(1000 * 2 ** (attempt - 1));
      }
    }
  }

  /** One attempt: redirects followed, the whole of it (connection, answer, body) within `timeoutMs`. */
  private async fetchOnce(start: URL, expectedType: string | undefined): Promise<Buffer> {
    const maxRedirects = this.options.maxRedirects ?? 5;
    const timeoutMs = this.options.timeoutMs ?? 300_000;
    const deadline = new AbortController();
    const late = (): DownloadError =>
      new DownloadError(`${safeUrl(start)} did not finish within ${timeoutMs} ms`, false, true);
    const timer = setTimeout(() => deadline.abort(late()), timeoutMs);
    try {
      let url = start;
      for (let hop = 0; ; hop++) {
        const address = await this.check(url);
        const response = await this.get(url, address, deadline.signal);
        deadline.signal.addEventListener('abort', () => response.destroy(late()), { once: true });
        if (REDIRECTS.has(response.statusCode ?? 0)) {
          response.resume();
          const location = response.headers.location;
          if (!location) throw new DownloadError(`${safeUrl(url)} answered a redirect with no Location`);
          if (hop >= maxRedirects)
            throw new DownloadError(`${safeUrl(start)} redirected more than ${maxRedirects} times`);
          url = new URL(location, url);
          continue;
        }
        return await this.body(url, response, expectedType);
      }
    } catch (err) {
      throw deadline.signal.aborted ? late() : err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Refuses a URL that is not https on a Slack file host (the rehearsal base aside); answers the address to use. */
  private async check(url: URL): Promise<{ address: string; family: number } | undefined> {
    const rehearsal = url.origin === this.rehearsalOrigin;
    if (!rehearsal) {
      if (url.protocol !== 'https:')
        throw new DownloadError(
          `refused ${safeUrl(url)}: files are downloaded over https only`,
          false,
          false,
          true,
        );
      if (!isSlackFileHost(url.hostname))
        throw new DownloadError(
          `refused ${safeUrl(url)}: ${url.hostname} is not one of Slack's file hosts`,
          false,
          false,
          true,
        );
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      if (!rehearsal && isPrivateAddress(host))
        throw new DownloadError(`refused ${safeUrl(url)}: ${host} is a private or loopback address`);
      return undefined;
    }
    if (rehearsal) return undefined;
    let addresses: LookupAddress[];
    try {
      addresses = await this.resolve(host);
    } catch (err) {
      throw new DownloadError(
        `${safeUrl(url)}: ${host} does not resolve (${(err as Error).message})`,
        false,
        true,
      );
    }
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad || addresses.length === 0)
      throw new DownloadError(
        `refused ${safeUrl(url)}: ${host} resolves to ${bad?.address ?? 'no address'}, a private, loopback or link-local address`,
      );
    return addresses[0];
  }

  private get(
    url: URL,
    address: { address: string; family: number } | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = { 'user-agent': 'teams-import' };
    const carriesToken = url.searchParams.has('t') || url.searchParams.has('token');
    if (
      this.options.botToken &&
      !carriesToken &&
      (isSlackFileHost(url.hostname) || url.origin === this.rehearsalOrigin)
    )
      headers.authorization = `Bearer ${this.options.botToken}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        url,
        {
          method: 'GET',
          headers,
          signal,
          ...(address
            ? {
                lookup: ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) =>
                  opts.all
                    ? cb(null, [address])
                    : cb(null, address.address, address.family)) as unknown as LookupFunction,
              }
            : {}),
        },
        resolve,
      );
      request.on('error', (err) =>
        reject(
          err instanceof DownloadError
            ? err
            : new DownloadError(`${safeUrl(url)}: ${err.message}`, false, true),
        ),
      );
      request.end();
    });
  }

  private body(url: URL, response: IncomingMessage, expectedType: string | undefined): Promise<Buffer> {
    const status = response.statusCode ?? 0;
    const where = safeUrl(url);
    if (status !== 200) {
      response.resume();
      if (status === 404 || status === 410)
        return Promise.reject(
          new DownloadError(`${where} answered ${status}: the file is no longer in Slack`, true),
        );
      if (status === 401 || status === 403)
        return Promise.reject(
          new DownloadError(
            `${where} answered ${status}: Slack refused the download; the export's file token may have expired (export again, or set SLACK_TOKEN to a bot token with files:read)`,
          ),
        );
      return Promise.reject(
        new DownloadError(`${where} answered ${status}`, false, status === 429 || status >= 500),
      );
    }
    const type = String(response.headers['content-type'] ?? '');
    if (/^text\/html/i.test(type) && expectedType && !/html/i.test(expectedType)) {
      response.resume();
      return Promise.reject(
        new DownloadError(
          `${where} answered a web page instead of the file: Slack did not accept the token (export again, or set SLACK_TOKEN)`,
        ),
      );
    }
    const limit = this.options.maxBytes;
    const declared = Number(response.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      response.destroy();
      return Promise.reject(new FileTooLargeError(limit, declared));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          response.destroy(new FileTooLargeError(limit));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', (err) =>
        reject(
          err instanceof DownloadError ? err : new DownloadError(`${where}: ${err.message}`, false, true),
        ),
      );
      response.on('end', () => {
        if (Number.isFinite(declared) && size !== declared)
          reject(new DownloadError(`${where} sent ${size} of ${declared} bytes`, false, true));
        else resolve(Buffer.concat(chunks));
      });
    });
  }
}
