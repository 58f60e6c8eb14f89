import type { Client } from '@microsoft/microsoft-graph-client';
import type { TokenProvider } from '../graph/auth';
import type {
  ChatExportStatus,
  ChatExportStore,
  ChatExportUser,
  PassSummary,
} from '../state/chatExportTables';
import { authorizeUrl, ConsentGoneError, redeemCode, refresh, type TokenClientOptions } from './consent';
import { consumeState, createPkcePair, issueState, verifyState } from './crypto';
import { ChatExporter, type ChatExportResult, type PlannedChat } from './exporter';
import { encodePathSegment, GraphChatSource } from './graphSource';
import { OneDriveSink } from './oneDriveSink';
import { failedChatResult, type PassTotals } from './passTotals';
import type { DisposableStaging } from './staging';
import { escapeHtml } from '../transform/html';

/** The app registration and authority used for the users' consent, and where the callback lives. */
export interface ConsentSettings extends Omit<TokenClientOptions, 'now' | 'timeoutMs'> {
  redirectUri: string;
}

/** What the chat-export service works with: its state, Graph clients (app-only source and target, delegated factory), settings. */
export interface ChatExportServiceDeps {
  store: ChatExportStore;
  /** Users' staged conversations: encrypted, deleted at the end of each pass unless kept for `stagingRetentionMs`. */
  staging: DisposableStaging;
  stagingRetentionMs: number;
  sourceGraph: Client;
  targetGraph: Client;
  delegatedGraph(tokens: TokenProvider): Client;
  graphUrl: string;
  consent(): ConsentSettings;
  links: { baseUrl(): string; stateKey: Buffer; ttlMs: number; sender?: string };
  timeZone: string;
  now(): number;
}

/** A mistake in a request to the service (unknown user, missing setting): the message says what to change. */
export class ChatExportRequestError extends Error {
  override readonly name = 'ChatExportRequestError';
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A consent callback that cannot complete: a message fit for the user's browser (no secret in it). */
export class ConsentCallbackError extends Error {
  override readonly name = 'ConsentCallbackError';
}

/** A consent link opened again after its consent was given: the user is told where the export stands. */
export class LinkUsedError extends Error {
  override readonly name = 'LinkUsedError';
  constructor(readonly status: ChatExportUser['status']) {
    super(
      status === 'exporting' || status === 'consented'
        ? 'This link was used already: your consent is recorded and your chat export is running. The files appear in your OneDrive folder TeamsHistory; you can close this page.'
        : status === 'exported'
          ? 'This link was used already: your consent is recorded and your chat export is done. The files are in your OneDrive folder TeamsHistory; you can close this page.'
          : 'This link was used already and cannot be used again: ask the administrator for a new link.',
    );
  }
}

/** A team of the source tenant and its channels, as discovery lists them. */
export interface DiscoveredTeam {
  id: string;
  displayName: string;
  channels: { id: string; displayName: string }[];
}

/** One page of discovered users: how many were listed and how many were new; `next` continues the listing. */
export interface UsersPageResult {
  users: number;
  added: number;
  next?: string;
}

/** One page of discovered teams (recorded in the store); `next` continues the listing. */
export interface TeamsPageResult {
  teams: number;
  next?: string;
}

/** The outcome of sending consent links. */
export interface SendLinksResult {
  sent: string[];
  skipped: { id: string; reason: string }[];
}

/** The plan of a pass: the chats to export and the target user, or why the pass cannot run. */
export type PlanResult =
  | { kind: 'planned'; targetUserId: string }
  | { kind: 'consentGone'; reason: string }
  | { kind: 'failed'; reason: string };

/** One page of a pass's chats, each with its file name; `next` continues the listing. */
export type ChatPagePlan =
  | { kind: 'page'; chats: PlannedChat[]; next?: string }
  | { kind: 'consentGone'; reason: string }
  | { kind: 'failed'; reason: string };

/** One chat's outcome inside a pass, or the consent that went away during it. */
export type ChatOutcome =
  { kind: 'done'; result: ChatExportResult } | { kind: 'consentGone'; reason: string };

/** User rows read at once while a discovered page is merged into the list. */
const LOOKUPS_AT_ONCE = 20;

interface Page<T> {
  value?: T[];
  '@odata.nextLink'?: string;
}

interface GraphUser {
  id: string;
  displayName?: string | null;
  mail?: string | null;
  userPrincipalName?: string | null;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Parses a user map CSV (`source,target` per line, UPNs or mails; a header line is skipped) into lower-cased pairs. */
export function parseUserMap(csv: string): Map<string, string> {
  const map = new Map<string, string>();
  csv.split(/\r?\n/).forEach((line, index) => {
    const text = line.trim();
    if (!text || text.startsWith('#')) return;
    const [source, target, ...rest] = text.split(',').map((cell) => cell.trim().replace(/^"|"$/g, ''));
    if (index === 0 && /^source/i.test(source ?? '')) return;
    if (!source || !target || rest.length > 0)
      throw new ChatExportRequestError(
        `userMap line ${index + 1} must be 'source,target' (two UPNs or mail addresses), got '${text.slice(0, 80)}'`,
      );
    map.set(source.toLowerCase(), target);
  });
  return map;
}

/**
 * The chat export's flows over injected ports: discovery, the user list, consent links by mail, the consent
 * landing and callback (single-use signed state, PKCE, the consenting user must be the invited one), and the
 * pass steps the durable activities call (plan, one chat, finish). Refresh tokens are kept only encrypted;
 * access tokens only in this process's memory.
 */
export class ChatExportService {
  private readonly accessTokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(private readonly deps: ChatExportServiceDeps) {}

  /** One page of a Graph listing; the next link is followed only on the Graph base URL. */
  private async page<T>(client: Client, pathOrLink: string): Promise<{ items: T[]; next?: string }> {
    const base = new URL(this.deps.graphUrl);
    let path = pathOrLink;
    if (/^https?:/i.test(pathOrLink)) {
      const url = new URL(pathOrLink);
      const match =
        url.origin === base.origin
          ? /^\/[^/]+(\/.*)$/.exec(url.pathname.slice(base.pathname.replace(/\/+$/, '').length))
          : null;
      if (!match)
        throw new Error(`Graph returned a next link outside ${base.origin}: check the GRAPH_URL setting`);
      path = `${match[1]}${url.search}`;
    }
    const page = (await client.api(path).get()) as Page<T>;
    const link = page['@odata.nextLink'];
    return { items: page.value ?? [], ...(link ? { next: link } : {}) };
  }

  private async *pages<T>(client: Client, first: string): AsyncIterable<T[]> {
    let next: string | undefined = first;
    while (next !== undefined) {
      const page: { items: T[]; next?: string } = await this.page<T>(client, next);
      yield page.items;
      next = page.next;
    }
  }

  /**
   * Lists one page of the source tenant's users into the user list (known users keep their status; a CSV
   * map overrides targets). Discovery goes page by page so a tenant of any size is listed by short steps.
   */
  async discoverUsersPage(input: { userMapCsv?: string; next?: string }): Promise<UsersPageResult> {
    const map = input.userMapCsv ? parseUserMap(input.userMapCsv) : new Map<string, string>();
    const select = '$select=id,displayName,mail,userPrincipalName';
    const page = await this.page<GraphUser>(this.deps.sourceGraph, input.next ?? `/users?${select}`);
    const known = new Map<string, ChatExportUser | undefined>();
    for (let i = 0; i < page.items.length; i += LOOKUPS_AT_ONCE) {
      const slice = page.items.slice(i, i + LOOKUPS_AT_ONCE);
      const rows = await Promise.all(slice.map((user) => this.deps.store.getUser(user.id)));
      slice.forEach((user, k) => known.set(user.id, rows[k]));
    }
    const fresh: ChatExportUser[] = [];
    for (const user of page.items) {
      const existing = known.get(user.id);
      const row = this.userRow(user, map, existing);
      if (!existing) fresh.push(row);
      else if (
        row.upn !== existing.upn ||
        row.mail !== existing.mail ||
        row.targetUpn !== existing.targetUpn ||
        row.displayName !== existing.displayName
      )
        await this.deps.store.updateUser(user.id, (current) => this.userRow(user, map, current));
    }
    await this.deps.store.putUsers(fresh);
    return { users: page.items.length, added: fresh.length, ...(page.next ? { next: page.next } : {}) };
  }

  /** Lists one page of the source tenant's teams with their channels, and records them for the discovery answer. */
  async discoverTeamsPage(input: { next?: string }): Promise<TeamsPageResult> {
    const page = await this.page<{ id: string; displayName?: string }>(
      this.deps.sourceGraph,
      input.next ?? '/teams',
    );
    const teams: DiscoveredTeam[] = [];
    for (const team of page.items) {
      const channels: DiscoveredTeam['channels'] = [];
      const path = `/teams/${encodePathSegment(team.id)}/channels`;
      for await (const list of this.pages<{ id: string; displayName?: string }>(this.deps.sourceGraph, path))
        channels.push(...list.map((c) => ({ id: c.id, displayName: c.displayName ?? '' })));
      teams.push({ id: team.id, displayName: team.displayName ?? '', channels });
    }
    await this.deps.store.putTeams(teams);
    return { teams: teams.length, ...(page.next ? { next: page.next } : {}) };
  }

  /** The source tenant's teams and channels as the last discovery recorded them. */
  listTeams(): Promise<DiscoveredTeam[]> {
    return this.deps.store.listTeams();
  }

  private userRow(
    user: GraphUser,
    map: Map<string, string>,
    existing: ChatExportUser | undefined,
    targetUpn?: string,
  ): ChatExportUser {
    const upn = user.userPrincipalName ?? user.mail ?? user.id;
    const target =
      targetUpn ??
      map.get(upn.toLowerCase()) ??
      map.get((user.mail ?? '').toLowerCase()) ??
      existing?.targetUpn ??
      upn;
    const keepTarget = existing?.targetUserId !== undefined && existing.targetUpn === target;
    return {
      ...(existing ?? {}),
      id: user.id,
      upn,
      mail: user.mail ?? undefined,
      displayName: user.displayName ?? undefined,
      targetUpn: target,
      targetUserId: keepTarget ? existing.targetUserId : undefined,
      status: existing?.status ?? 'discovered',
      updatedAt: existing?.updatedAt ?? new Date(this.deps.now()).toISOString(),
    };
  }

  /** Adds one source user (by id or UPN, looked up in the source tenant), optionally mapped to another target UPN. */
  async addUser(input: { user: string; targetUpn?: string }): Promise<ChatExportUser> {
    let found: GraphUser;
    try {
      found = (await this.deps.sourceGraph
        .api(`/users/${encodePathSegment(input.user)}`)
        .select(['id', 'displayName', 'mail', 'userPrincipalName'])
        .get()) as GraphUser;
    } catch (error) {
      if (statusOf(error) === 404)
        throw new ChatExportRequestError(`User '${input.user}' does not exist in the source tenant`, 404);
      throw error;
    }
    const existing = await this.deps.store.getUser(found.id);
    if (existing)
      return this.deps.store.updateUser(found.id, (current) => ({
        ...this.userRow(found, new Map(), current, input.targetUpn),
        updatedAt: new Date(this.deps.now()).toISOString(),
      }));
    const row = this.userRow(found, new Map(), undefined, input.targetUpn);
    await this.deps.store.putUser(row);
    return row;
  }

  async listUsers(): Promise<ChatExportUser[]> {
    return this.deps.store.listUsers();
  }

  async getUser(id: string): Promise<ChatExportUser | undefined> {
    return this.deps.store.getUser(id);
  }

  /** Mails a personal, single-use, expiring consent link to each chosen user from the sender mailbox. */
  async sendLinks(input: { all?: boolean; users?: string[] }): Promise<SendLinksResult> {
    const sender = this.deps.links.sender;
    if (!sender)
      throw new ChatExportRequestError(
        'No sender mailbox: set CHAT_EXPORT_SENDER (or pass --sender to teams-import serve) to a mailbox the app may send from',
      );
    const everyone = await this.deps.store.listUsers();
    const byKey = new Map<string, ChatExportUser>();
    for (const user of everyone) {
      byKey.set(user.id.toLowerCase(), user);
      byKey.set(user.upn.toLowerCase(), user);
    }
    const result: SendLinksResult = { sent: [], skipped: [] };
    let chosen: ChatExportUser[];
    if (input.all) {
      chosen = [];
      for (const user of everyone) {
        if (['consented', 'exporting', 'exported'].includes(user.status))
          result.skipped.push({ id: user.id, reason: `already ${user.status}` });
        else chosen.push(user);
      }
    } else {
      chosen = [];
      for (const key of input.users ?? []) {
        const user = byKey.get(key.toLowerCase());
        if (user) chosen.push(user);
        else
          result.skipped.push({
            id: key,
            reason: 'not in the chat-export user list: discover or add it first',
          });
      }
    }
    for (const user of chosen) {
      const address = user.mail ?? user.upn;
      const { state, claims } = issueState(user.id, this.deps.links.stateKey, {
        ttlMs: this.deps.links.ttlMs,
        now: this.deps.now,
      });
      const link = `${this.deps.links.baseUrl()}/api/chat-export/consent?state=${encodeURIComponent(state)}`;
      const expires = new Date(claims.exp).toUTCString();
      const name = escapeHtml(user.displayName ?? user.upn);
      const body =
        `<p>Hello ${name},</p><p>Your private Teams chats (1:1 and group chats) are being copied to your OneDrive, ` +
        `folder <b>TeamsHistory</b>, one HTML file per conversation. Please allow read access to your chats once:</p>` +
        `<p><a href="${escapeHtml(link)}">Allow the export of my Teams chats</a></p>` +
        `<p>This link is personal, works once, and expires on ${escapeHtml(expires)}.</p>`;
      try {
        await this.deps.sourceGraph.api(`/users/${encodePathSegment(sender)}/sendMail`).post({
          message: {
            subject: 'Action needed: copy your Teams chats to OneDrive',
            body: { contentType: 'HTML', content: body },
            toRecipients: [{ emailAddress: { address } }],
          },
          saveToSentItems: false,
        });
      } catch (error) {
        result.skipped.push({ id: user.id, reason: `sendMail from ${sender} failed: ${message(error)}` });
        continue;
      }
      await this.deps.store.updateUser(user.id, (u) => ({
        ...u,
        status: 'link-sent',
        reason: undefined,
        linkSentAt: new Date(this.deps.now()).toISOString(),
        updatedAt: new Date(this.deps.now()).toISOString(),
      }));
      result.sent.push(user.id);
    }
    return result;
  }

  /** Deletes what has expired: nonce and PKCE rows of expired links, and staged conversations kept past their retention. */
  async purgeExpired(): Promise<void> {
    const now = this.deps.now();
    await this.deps.store.purgeExpired(now);
    for (const userId of await this.deps.store.takeExpiredStaging(now))
      await this.deps.staging.deleteConversations(userId);
  }

  /**
   * The consent landing: purges what has expired, checks the state (not yet consuming it), stores a PKCE
   * verifier under its nonce, answers the authorize URL.
   */
  async beginConsent(state: string): Promise<string> {
    await this.purgeExpired();
    const claims = verifyState(state, this.deps.links.stateKey, this.deps.now);
    const user = await this.deps.store.getUser(claims.userId);
    if (!user) throw new ConsentCallbackError('This link is for a user who is no longer in the export list.');
    if (await this.deps.store.wasConsumed(claims.nonce)) throw new LinkUsedError(user.status);
    const pkce = createPkcePair();
    await this.deps.store.savePkceVerifier(claims.nonce, pkce.verifier, claims.exp);
    const consent = this.deps.consent();
    return authorizeUrl({
      ...consent,
      state,
      codeChallenge: pkce.challenge,
      loginHint: user.upn,
    });
  }

  /** The consent callback: consumes the state, redeems the code with the verifier, checks the user, stores the token encrypted. */
  async completeConsent(input: { state: string; code: string }): Promise<ChatExportUser> {
    const claims = await consumeState(input.state, this.deps.links.stateKey, this.deps.store, this.deps.now);
    const verifier = await this.deps.store.takePkceVerifier(claims.nonce);
    if (!verifier)
      throw new ConsentCallbackError(
        'This sign-in did not start from the consent link: open the link from the e-mail again.',
      );
    const consent = this.deps.consent();
    const tokens = await redeemCode({
      ...consent,
      code: input.code,
      codeVerifier: verifier,
      now: this.deps.now,
    });
    const client = this.deps.delegatedGraph({ getToken: () => Promise.resolve(tokens.accessToken) });
    const me = (await client.api('/me').select(['id', 'userPrincipalName']).get()) as GraphUser;
    const invited = await this.deps.store.getUser(claims.userId);
    if (!invited)
      throw new ConsentCallbackError('This link is for a user who is no longer in the export list.');
    if (me.id !== claims.userId)
      throw new ConsentCallbackError(
        `You signed in as ${me.userPrincipalName ?? 'another account'}, but this link was sent to ${invited.upn}: ask for a new link and sign in with that account.`,
      );
    await this.deps.store.saveRefreshToken(claims.userId, tokens.refreshToken);
    this.accessTokens.set(claims.userId, { token: tokens.accessToken, expiresAt: tokens.expiresAt });
    const now = new Date(this.deps.now()).toISOString();
    return this.deps.store.updateUser(claims.userId, (u) => ({
      ...u,
      status: 'consented',
      reason: undefined,
      consentedAt: now,
      updatedAt: now,
    }));
  }

  private async accessToken(userId: string, force: boolean): Promise<string> {
    const cached = this.accessTokens.get(userId);
    if (!force && cached && cached.expiresAt - 5 * 60_000 > this.deps.now()) return cached.token;
    const stored = await this.deps.store.loadRefreshToken(userId);
    if (!stored) throw new ConsentGoneError('no consent is recorded for this user', 'no_refresh_token');
    const tokens = await refresh({ ...this.deps.consent(), refreshToken: stored, now: this.deps.now });
    if (tokens.refreshToken !== stored) await this.deps.store.saveRefreshToken(userId, tokens.refreshToken);
    this.accessTokens.set(userId, { token: tokens.accessToken, expiresAt: tokens.expiresAt });
    return tokens.accessToken;
  }

  private exporter(userId: string): ChatExporter {
    const client = this.deps.delegatedGraph({ getToken: () => this.accessToken(userId, false) });
    return new ChatExporter({
      source: new GraphChatSource(client, { graphBaseUrl: this.deps.graphUrl, chatsRoute: 'me' }),
      sink: new OneDriveSink({ client: this.deps.targetGraph, staging: this.deps.staging }),
    });
  }

  private async targetUserId(user: ChatExportUser): Promise<string> {
    if (user.targetUserId) return user.targetUserId;
    try {
      const found = (await this.deps.targetGraph
        .api(`/users/${encodePathSegment(user.targetUpn)}`)
        .select(['id'])
        .get()) as GraphUser;
      await this.deps.store.updateUser(user.id, (u) => ({ ...u, targetUserId: found.id }));
      return found.id;
    } catch (error) {
      if (statusOf(error) === 404)
        throw new Error(
          `Target user '${user.targetUpn}' does not exist in the target tenant: create it or map the user to another UPN with a userMap`,
        );
      throw error;
    }
  }

  /** Starts a pass: marks the user exporting, refreshes the consent (a lost one is reported, not thrown), lists and names the chats. */
  async planPass(userId: string): Promise<PlanResult> {
    const user = await this.deps.store.getUser(userId);
    if (!user) return { kind: 'failed', reason: `User '${userId}' is not in the chat-export user list` };
    await this.deps.store.updateUser(userId, (u) => ({
      ...u,
      status: 'exporting',
      reason: undefined,
      updatedAt: new Date(this.deps.now()).toISOString(),
    }));
    try {
      await this.accessToken(userId, true);
      return { kind: 'planned', targetUserId: await this.targetUserId(user) };
    } catch (error) {
      if (error instanceof ConsentGoneError) return { kind: 'consentGone', reason: error.reason };
      return { kind: 'failed', reason: message(error) };
    }
  }

  /**
   * Lists and names one page of the user's chats. A new chat's file name is recorded (as a cursor with the
   * name only) before the page is returned, so later pages and later passes never give it to another chat.
   */
  async planChatPage(input: { userId: string; next?: string }): Promise<ChatPagePlan> {
    try {
      const cursors = await this.deps.store.loadCursors(input.userId);
      const page = await this.exporter(input.userId).planChatPage(input.userId, cursors, input.next);
      for (const planned of page.planned)
        if (!planned.cursor)
          await this.deps.store.saveCursor(input.userId, planned.chat.id, { fileName: planned.fileName });
      return { kind: 'page', chats: page.planned, ...(page.next ? { next: page.next } : {}) };
    } catch (error) {
      if (error instanceof ConsentGoneError) return { kind: 'consentGone', reason: error.reason };
      return { kind: 'failed', reason: `listing the chats failed: ${message(error)}` };
    }
  }

  /** Exports one planned chat and records its cursor; a lost consent is reported, other failures become a failed result. */
  async exportChat(input: {
    userId: string;
    targetUserId: string;
    planned: PlannedChat;
  }): Promise<ChatOutcome> {
    const { userId, targetUserId, planned } = input;
    try {
      const result = await this.exporter(userId).exportChat(planned, {
        sourceUserId: userId,
        targetUserId,
        timeZone: this.deps.timeZone,
      });
      if (result.cursor) await this.deps.store.saveCursor(userId, planned.chat.id, result.cursor);
      return { kind: 'done', result };
    } catch (error) {
      if (error instanceof ConsentGoneError) return { kind: 'consentGone', reason: error.reason };
      return { kind: 'done', result: failedChatResult(planned, error) };
    }
  }

  /**
   * Ends a pass: exported (with counts), consent-needed with the reason, or failed naming the failed chats.
   * The user's staged conversations are deleted (or their retention starts), and what has expired is purged.
   */
  async finishPass(input: {
    userId: string;
    mode: 'full' | 'delta';
    totals: PassTotals;
    /** Why the pass could not list or plan the chats, when it could not. */
    failure?: string;
  }): Promise<ChatExportUser> {
    const now = new Date(this.deps.now()).toISOString();
    const { totals } = input;
    const summary: PassSummary = {
      mode: input.mode,
      finishedAt: now,
      chats: totals.chats,
      uploaded: totals.uploaded,
      unchanged: totals.unchanged,
      empty: totals.empty,
      failed: totals.failed,
      addedMessages: totals.addedMessages,
      updatedMessages: totals.updatedMessages,
    };
    let status: ChatExportStatus = 'exported';
    let reason: string | undefined;
    if (totals.consentGone !== undefined) {
      status = 'consent-needed';
      reason = `consent is gone (${totals.consentGone}): send the user a new link`;
    } else if (input.failure !== undefined) {
      status = 'failed';
      reason = input.failure;
    } else if (totals.failed > 0) {
      status = 'failed';
      const more = totals.failed - totals.failures.length;
      reason = `${totals.failures.join('; ')}${more > 0 ? `; and ${more} more` : ''}`.slice(0, 1000);
    }
    if (totals.consentGone !== undefined) this.accessTokens.delete(input.userId);
    if (this.deps.stagingRetentionMs > 0)
      await this.deps.store.setStagingExpiry(input.userId, this.deps.now() + this.deps.stagingRetentionMs);
    else await this.deps.staging.deleteConversations(input.userId);
    await this.purgeExpired();
    return this.deps.store.updateUser(input.userId, (u) => ({
      ...u,
      status,
      reason,
      lastPass: summary,
      updatedAt: now,
    }));
  }
}
