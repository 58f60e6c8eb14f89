import type {
  AadUserConversationMember,
  AadUserConversationMemberResult,
  Channel,
  ChatMessage,
  Team,
  TeamsAsyncOperation,
  TeamsAsyncOperationStatus,
  TeamVisibilityType,
} from '@microsoft/microsoft-graph-types';
import type { CreationBudget } from './budget';
import { ChatImportClient } from './chatImport';
import type { GraphClientHandle } from './client';
import { GraphError } from './errors';
import { getFilesFolder, uploadFile, type FilesFolder, type UploadOptions, type UploadedFile } from './files';
import type { ImportMessageBody } from './messageBody';
import { channelPacingKey, type Pacer } from './pacing';
import { GraphCaller, odataString, seg, startMigration } from './request';
import { resolveUsers, type ResolvedUser } from './users';

/** A Graph entity whose id the service always returns. */
export type WithId<T> = T & { id: string };

/**
 * Where a team or channel stands with the import: `inProgress` (migration mode), `completed`, null when it
 * was never migrated, undefined when the service did not say (some tenants omit it: msteams-docs #13988).
 */
export type MigrationMode = 'inProgress' | 'completed' | null | undefined;

/** A channel as GET answers it, with its migration mode. */
export type ChannelState = WithId<Channel> & { migrationMode?: MigrationMode };

/** A team as GET answers it, with its migration mode where the service gives one. */
export type TeamState = WithId<Team> & { migrationMode?: MigrationMode };

/** A member of a team: the Entra user and whether it is an owner. */
export interface TeamMember {
  userId: string;
  owner: boolean;
}

/** What createTeamInMigration needs: the team's name, description and back-dated creation time. */
export interface NewTeam {
  displayName: string;
  description: string;
  createdDateTime: string;
  visibility?: TeamVisibilityType;
}

/** A channel to create in migration mode (always a standard channel). */
export interface NewChannel {
  displayName: string;
  description: string;
  createdDateTime: string;
}

/** The state of a team-creation operation. */
export interface OperationState {
  status: TeamsAsyncOperationStatus;
  targetResourceId?: string;
  error?: { code: string; message: string };
}

/** The outcome of a completeMigration call: done now, or found already done. */
export interface CompletionResult {
  alreadyCompleted: boolean;
}

/** A member to add: an Entra object id, as owner or member. */
export interface NewMember {
  userId: string;
  owner?: boolean;
}

/** The outcome for one member of a bulk add. */
export interface MemberResult {
  userId: string;
  ok: boolean;
  alreadyMember: boolean;
  error?: string;
}

/** Options of TeamsImportClient. */
export interface TeamsImportClientOptions {
  /** When given, postMessage and postReply wait for the channel's pacing token first. */
  pacer?: Pacer;
  /** When given, message and reply lookups wait for it first (GET channel message: 20 rps per app and tenant). */
  readPacer?: { acquire(): Promise<void> };
  /** When given, team and channel creations wait for its admission first (the tenant's creation limits). */
  creations?: CreationBudget;
  upload?: UploadOptions;
}

const MEMBERS_PER_REQUEST = 200;
const ALREADY_DONE = /already (been )?(finali[sz]ed|completed)/i;
const ALREADY_MEMBER = /already (a )?(member|exists)/i;

/**
 * The Graph calls of a Teams import, typed and thin. Every method maps to one documented request (paging
 * and chunking aside); idempotency decisions (409 lookups, "already done") are reported, not hidden.
 */
export class TeamsImportClient {
  private readonly caller: GraphCaller;
  /** The chat import calls, on the same connection, pacing and read budget. */
  readonly chats: ChatImportClient;

  constructor(
    handle: GraphClientHandle,
    private readonly options: TeamsImportClientOptions = {},
  ) {
    this.caller = new GraphCaller(handle);
    this.chats = new ChatImportClient(this.caller, { pacer: options.pacer, readPacer: options.readPacer });
  }

  /** `POST /teams` in migration mode (admitted by the creation budget); the team is created asynchronously (202 + operation URL). */
  async createTeamInMigration(team: NewTeam): Promise<{ teamId: string; operationUrl: string }> {
    const body = {
      '@microsoft.graph.teamCreationMode': 'migration',
      'template@odata.bind': `${this.caller.handle.baseUrl}/${this.caller.handle.version}/teamsTemplates('standard')`,
      displayName: team.displayName,
      description: team.description,
      createdDateTime: team.createdDateTime,
      ...(team.visibility ? { visibility: team.visibility } : {}),
    } satisfies Team & Record<string, unknown>;
    await this.options.creations?.admit('team');
    const { headers } = await this.caller.call('createTeamInMigration', 'POST', '/teams', { body });
    const operationUrl = headers.get('location') ?? '';
    const teamId = teamIdOf(headers.get('content-location') ?? '') ?? teamIdOf(operationUrl);
    if (!teamId || !operationUrl)
      throw new Error(
        `createTeamInMigration: the answer carries no team id or operation URL (Location: ${operationUrl || 'none'}); look the team up by name before creating it again.`,
      );
    return { teamId, operationUrl };
  }

  /** `GET` a teamsAsyncOperation by the URL createTeamInMigration returned. */
  async getOperation(operationUrl: string): Promise<OperationState> {
    const { body } = await this.caller.call<TeamsAsyncOperation>('getOperation', 'GET', operationUrl);
    return {
      status: body.status ?? 'invalid',
      ...(body.targetResourceId ? { targetResourceId: body.targetResourceId } : {}),
      ...(body.error ? { error: { code: body.error.code ?? '', message: body.error.message ?? '' } } : {}),
    };
  }

  /** Teams whose display name equals `name` (case-insensitive), over all result pages. */
  async findTeamsByName(name: string): Promise<WithId<Team>[]> {
    const filter = encodeURIComponent(`displayName eq ${odataString(name)}`);
    const teams = await this.all<WithId<Team>>('findTeamsByName', `/teams?$filter=${filter}`);
    return teams.filter((t) => (t.displayName ?? '').toLowerCase() === name.toLowerCase());
  }

  /**
   * The tenant's teams of this name, as the directory has them: `GET /groups?$filter=resourceProvisioningOptions/
   * Any(x:x eq 'Team') and displayName eq '<name>'` (a quote written twice), every page; the directory compares
   * names regardless of case, and so does the check. Needs `Group.Read.All` (or `Directory.Read.All`).
   */
  async findTeamGroupsByName(
    name: string,
  ): Promise<{ id: string; displayName: string; description: string | null }[]> {
    const filter = encodeURIComponent(
      `resourceProvisioningOptions/Any(x:x eq 'Team') and displayName eq ${odataString(name)}`,
    );
    const groups = await this.all<{ id: string; displayName?: string | null; description?: string | null }>(
      'findTeamGroupsByName',
      `/groups?$filter=${filter}&$select=id,displayName,description`,
    );
    return groups
      .filter((g) => (g.displayName ?? '').toLowerCase() === name.toLowerCase())
      .map((g) => ({ id: g.id, displayName: g.displayName ?? '', description: g.description ?? null }));
  }

  /** `GET /teams/{id}`, with the team's `migrationMode` when the service gives one. */
  async getTeam(teamId: string): Promise<TeamState> {
    return (await this.caller.call<TeamState>('getTeam', 'GET', `/teams/${seg(teamId)}`)).body;
  }

  /** `GET /teams/{id}/channels/{id}`, with the channel's `migrationMode`. */
  async getChannel(teamId: string, channelId: string): Promise<ChannelState> {
    return (
      await this.caller.call<ChannelState>(
        'getChannel',
        'GET',
        `/teams/${seg(teamId)}/channels/${seg(channelId)}`,
      )
    ).body;
  }

  /** The team's members (`GET /teams/{id}/members`, every page). */
  async listMembers(teamId: string): Promise<TeamMember[]> {
    const members = await this.all<AadUserConversationMember>('listMembers', `/teams/${seg(teamId)}/members`);
    return members
      .filter((m) => m.userId)
      .map((m) => ({ userId: m.userId!, owner: (m.roles ?? []).includes('owner') }));
  }

  /** The team's General channel (`GET /teams/{id}/primaryChannel`). */
  async getPrimaryChannel(teamId: string): Promise<WithId<Channel>> {
    return (
      await this.caller.call<WithId<Channel>>(
        'getPrimaryChannel',
        'GET',
        `/teams/${seg(teamId)}/primaryChannel`,
      )
    ).body;
  }

  /** All channels of a team, over all result pages. */
  listChannels(teamId: string): Promise<WithId<Channel>[]> {
    return this.all<WithId<Channel>>('listChannels', `/teams/${seg(teamId)}/channels`);
  }

  /** `POST /teams/{id}/channels` in migration mode (a standard channel, back-dated; admitted by the creation budget). */
  async createChannelInMigration(teamId: string, channel: NewChannel): Promise<WithId<Channel>> {
    const body = {
      '@microsoft.graph.channelCreationMode': 'migration',
      displayName: channel.displayName,
      description: channel.description,
      membershipType: 'standard',
      createdDateTime: channel.createdDateTime,
    } satisfies Channel & Record<string, unknown>;
    await this.options.creations?.admit('channel');
    return (
      await this.caller.call<WithId<Channel>>(
        'createChannelInMigration',
        'POST',
        `/teams/${seg(teamId)}/channels`,
        {
          body,
        },
      )
    ).body;
  }

  /**
   * `POST /teams/{id}/channels` of a standard channel created normally (not in migration mode): a channel added
   * to a completed team, which `startChannelMigration` then opens for import.
   */
  async createChannel(
    teamId: string,
    channel: Omit<NewChannel, 'createdDateTime'>,
  ): Promise<WithId<Channel>> {
    const body = {
      displayName: channel.displayName,
      description: channel.description,
      membershipType: 'standard',
    } satisfies Channel;
    return (
      await this.caller.call<WithId<Channel>>('createChannel', 'POST', `/teams/${seg(teamId)}/channels`, {
        body,
      })
    ).body;
  }

  /**
   * `POST /teams/{id}/channels` of a private channel, created normally (only standard channels can be created in
   * migration mode) with its owner in `members` (an application creates it on nobody's behalf); the owner must
   * be a member of the team. `startChannelMigration` then opens it for import.
   */
  async createPrivateChannel(
    teamId: string,
    channel: Omit<NewChannel, 'createdDateTime'> & { ownerId: string },
  ): Promise<WithId<Channel>> {
    const body = {
      displayName: channel.displayName,
      description: channel.description,
      membershipType: 'private',
      members: [
        {
          '@odata.type': '#microsoft.graph.aadUserConversationMember',
          roles: ['owner'],
          'user@odata.bind': this.userBind(channel.ownerId),
        },
      ],
    };
    await this.options.creations?.admit('channel');
    return (
      await this.caller.call<WithId<Channel>>(
        'createPrivateChannel',
        'POST',
        `/teams/${seg(teamId)}/channels`,
        {
          body,
        },
      )
    ).body;
  }

  /** A private channel's members (`GET /teams/{id}/channels/{id}/members`, every page). */
  async listChannelMembers(teamId: string, channelId: string): Promise<TeamMember[]> {
    const members = await this.all<AadUserConversationMember>(
      'listChannelMembers',
      `/teams/${seg(teamId)}/channels/${seg(channelId)}/members`,
    );
    return members
      .filter((m) => m.userId)
      .map((m) => ({ userId: m.userId!, owner: (m.roles ?? []).includes('owner') }));
  }

  /** Adds one member to a private channel (`POST /teams/{id}/channels/{id}/members`); they must be in the team. */
  async addChannelMember(teamId: string, channelId: string, member: NewMember): Promise<void> {
    await this.caller.call(
      'addChannelMember',
      'POST',
      `/teams/${seg(teamId)}/channels/${seg(channelId)}/members`,
      {
        body: {
          '@odata.type': '#microsoft.graph.aadUserConversationMember',
          roles: member.owner ? ['owner'] : [],
          'user@odata.bind': this.userBind(member.userId),
        },
        idempotent: true,
      },
    );
  }

  private userBind(userId: string): string {
    return `${this.caller.handle.baseUrl}/${this.caller.handle.version}/users('${userId}')`;
  }

  /**
   * `POST /teams/{id}/channels/{id}/startMigration` (Graph v1.0): opens an existing channel for import again;
   * `conversationCreationDateTime` (only earlier than the channel's `createdDateTime`) moves its creation back.
   * A channel already in migration is reported as `alreadyInMigration`.
   */
  async startChannelMigration(
    teamId: string,
    channelId: string,
    conversationCreationDateTime?: string,
  ): Promise<{ alreadyInMigration: boolean }> {
    return startMigration(
      this.caller,
      'startChannelMigration',
      `/teams/${seg(teamId)}/channels/${seg(channelId)}`,
      conversationCreationDateTime,
    );
  }

  /** Imports a top-level message (paced when the client has a Pacer). 409 means the millisecond is taken: look it up. */
  async postMessage(
    teamId: string,
    channelId: string,
    body: ImportMessageBody,
  ): Promise<WithId<ChatMessage>> {
    await this.options.pacer?.acquire(channelPacingKey(teamId, channelId));
    return (
      await this.caller.call<WithId<ChatMessage>>('postMessage', 'POST', messagesPath(teamId, channelId), {
        body,
      })
    ).body;
  }

  /** Imports a reply under `parentId` (paced like postMessage). */
  async postReply(
    teamId: string,
    channelId: string,
    parentId: string,
    body: ImportMessageBody,
  ): Promise<WithId<ChatMessage>> {
    await this.options.pacer?.acquire(channelPacingKey(teamId, channelId));
    const path = `${messagesPath(teamId, channelId)}/${seg(parentId)}/replies`;
    return (await this.caller.call<WithId<ChatMessage>>('postReply', 'POST', path, { body })).body;
  }

  /** A top-level message by id, or null when the channel has none with that id. */
  getMessage(teamId: string, channelId: string, messageId: string): Promise<WithId<ChatMessage> | null> {
    return this.getOrNull('getMessage', `${messagesPath(teamId, channelId)}/${seg(messageId)}`);
  }

  /** A reply by id, or null when the thread has none with that id. */
  getReply(
    teamId: string,
    channelId: string,
    parentId: string,
    replyId: string,
  ): Promise<WithId<ChatMessage> | null> {
    return this.getOrNull(
      'getReply',
      `${messagesPath(teamId, channelId)}/${seg(parentId)}/replies/${seg(replyId)}`,
    );
  }

  /** Ends migration mode for a channel; "already finalized" is reported as `alreadyCompleted`. */
  completeChannel(teamId: string, channelId: string): Promise<CompletionResult> {
    return this.complete(
      'completeChannel',
      `/teams/${seg(teamId)}/channels/${seg(channelId)}/completeMigration`,
    );
  }

  /** Ends migration mode for the team (all channels first); "already finalized" is reported as `alreadyCompleted`. */
  completeTeam(teamId: string): Promise<CompletionResult> {
    return this.complete('completeTeam', `/teams/${seg(teamId)}/completeMigration`);
  }

  /** Adds members in bulk (`POST /teams/{id}/members/add`, 200 a request); "already a member" counts as ok. */
  async addMembers(teamId: string, members: NewMember[]): Promise<MemberResult[]> {
    const results: MemberResult[] = [];
    for (let start = 0; start < members.length; start += MEMBERS_PER_REQUEST) {
      const chunk = members.slice(start, start + MEMBERS_PER_REQUEST);
      const values = chunk.map((m) => ({
        '@odata.type': '#microsoft.graph.aadUserConversationMember',
        roles: m.owner ? ['owner'] : [],
        'user@odata.bind': `${this.caller.handle.baseUrl}/${this.caller.handle.version}/users('${m.userId}')`,
      }));
      const { body } = await this.caller.call<{ value?: AadUserConversationMemberResult[] }>(
        'addMembers',
        'POST',
        `/teams/${seg(teamId)}/members/add`,
        { body: { values }, idempotent: true },
      );
      const byUser = new Map((body?.value ?? []).map((r) => [r.userId ?? '', r]));
      for (const member of chunk) results.push(memberResult(member.userId, byUser.get(member.userId)));
    }
    return results;
  }

  /** Resolves e-mails / UPNs / ids to tenant users (`$batch`, 20 a request); unknown ones map to null. */
  resolveUsers(keys: string[]): Promise<Map<string, ResolvedUser | null>> {
    return resolveUsers(this.caller, keys);
  }

  /** The channel's files folder (drive id and folder item id). */
  getFilesFolder(teamId: string, channelId: string): Promise<FilesFolder> {
    return getFilesFolder(this.caller, teamId, channelId);
  }

  /** Uploads (or replaces) a file in a folder: a single PUT up to 4 MiB, else an upload session. */
  uploadFile(driveId: string, parentId: string, name: string, bytes: Buffer): Promise<UploadedFile> {
    return uploadFile(this.caller, driveId, parentId, name, bytes, this.options.upload);
  }

  private async all<T>(call: string, path: string): Promise<T[]> {
    const items: T[] = [];
    for (let next: string | undefined = path; next;) {
      const { body }: { body: { value?: T[]; '@odata.nextLink'?: string } } = await this.caller.call(
        call,
        'GET',
        next,
      );
      items.push(...(body.value ?? []));
      next = body['@odata.nextLink'];
    }
    return items;
  }

  private async getOrNull(call: string, path: string): Promise<WithId<ChatMessage> | null> {
    await this.options.readPacer?.acquire();
    try {
      return (await this.caller.call<WithId<ChatMessage>>(call, 'GET', path)).body;
    } catch (err) {
      if (err instanceof GraphError && err.status === 404) return null;
      throw err;
    }
  }

  private async complete(call: string, path: string): Promise<CompletionResult> {
    try {
      await this.caller.call(call, 'POST', path, { idempotent: true });
      return { alreadyCompleted: false };
    } catch (err) {
      if (err instanceof GraphError && err.status === 400 && ALREADY_DONE.test(err.serviceMessage))
        return { alreadyCompleted: true };
      throw err;
    }
  }
}

function messagesPath(teamId: string, channelId: string): string {
  return `/teams/${seg(teamId)}/channels/${seg(channelId)}/messages`;
}

function teamIdOf(location: string): string | undefined {
  const match = /teams\('([^']+)'\)/.exec(location) ?? /teams\/([^/?('"]+)/.exec(location);
  return match ? decodeURIComponent(match[1]) : undefined;
}

function memberResult(userId: string, result: AadUserConversationMemberResult | undefined): MemberResult {
  if (!result)
    return { userId, ok: false, alreadyMember: false, error: 'the service returned no result for this user' };
  const error = result.error;
  if (!error) return { userId, ok: true, alreadyMember: false };
  const text = `${error.code ?? ''}: ${error.message ?? ''}`;
  if (ALREADY_MEMBER.test(text)) return { userId, ok: true, alreadyMember: true };
  return { userId, ok: false, alreadyMember: false, error: text };
}
