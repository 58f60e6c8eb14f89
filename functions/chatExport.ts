import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { createChatExportActivities } from '../activities/chatExport';
import {
  ChatExportActivity,
  ChatExportOrchestrator,
  DISCOVERY_INSTANCE_ID,
  type DiscoverInput,
  type DiscoveryStatus,
  type DiscoveryTotals,
  type ExportUserChatsInput,
  type ExportUserChatsStatus,
} from '../activities/chatExportNames';
import { StateError } from '../core/chatexport/crypto';
import { ConsentGoneError, TokenEndpointError } from '../core/chatexport/consent';
import {
  ChatExportRequestError,
  ConsentCallbackError,
  LinkUsedError,
  parseUserMap,
  type ChatExportService,
} from '../core/chatexport/service';
import '../orchestrators/discoverChatExport';
import '../orchestrators/exportUserChats';
import { NotConfiguredError, runtime } from './runtime';
import { escapeHtml } from '../core/transform/html';
import { issueMessages } from './requestErrors';

/** The chat export's service of the running app (NotConfiguredError when the chat export is off). */
function chatExportService(): Promise<ChatExportService> {
  return runtime().chatExport();
}

/** The instance id of a user's export: derived from the user id, so a second pass finds a running first. */
export function chatExportInstanceId(userId: string): string {
  return `chat-export-${createHash('sha256').update(userId, 'utf8').digest('hex').slice(0, 32)}`;
}

const sendLinksSchema = z.union(
  [
    z.object({ all: z.literal(true) }).strict(),
    z
      .object({
        users: z
          .array(z.string().min(1, { error: 'users[] entries must be user ids or UPNs' }))
          .min(1, { error: 'users must list at least one user id or UPN' }),
      })
      .strict(),
  ],
  { error: 'The body must be {"all": true} or {"users": ["<id or UPN>", ...]}' },
);

const addUserSchema = z
  .object({
    user: z.string().min(1, { error: 'user must be the user id or UPN in the source tenant' }),
    targetUpn: z
      .string()
      .min(3, { error: 'targetUpn must be the UPN of the user in the target tenant' })
      .optional(),
  })
  .strict();

const discoverSchema = z
  .object({ userMap: z.string({ error: 'userMap must be CSV text: source,target per line' }).optional() })
  .strict();

async function jsonBody(request: HttpRequest, optional: boolean): Promise<unknown> {
  const text = await request.text();
  if (!text.trim()) return optional ? {} : undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function failure(error: unknown, context: InvocationContext): HttpResponseInit {
  if (error instanceof ChatExportRequestError || error instanceof NotConfiguredError)
    return { status: error.status, jsonBody: { error: error.message } };
  const message = error instanceof Error ? error.message : String(error);
  context.error(`chat export: ${message}`);
  return { status: 500, jsonBody: { error: message } };
}

function page(status: number, title: string, text: string, id: string): HttpResponseInit {
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>body{font-family:sans-serif;max-width:36em;margin:3em auto;color:#222}</style></head><body><h1>${escapeHtml(title)}</h1><p id="${id}">${escapeHtml(text)}</p></body></html>`,
  };
}

function consentProblem(error: unknown, context: InvocationContext): HttpResponseInit {
  if (error instanceof NotConfiguredError)
    return page(
      503,
      'The chat export is not available',
      'Ask the administrator: the chat export is not set up.',
      'problem',
    );
  if (error instanceof StateError)
    return page(400, 'This link cannot be used', `${error.message} (${error.reason}).`, 'problem');
  if (error instanceof ConsentCallbackError)
    return page(400, 'Consent not completed', error.message, 'problem');
  if (error instanceof LinkUsedError) return page(400, 'This link was used', error.message, 'used');
  if (error instanceof ConsentGoneError || error instanceof TokenEndpointError) {
    context.error(`chat export consent: ${error.message}`);
    return page(
      400,
      'Consent not completed',
      'The sign-in could not be completed: open the link from the e-mail again, or ask the administrator for a new link.',
      'problem',
    );
  }
  context.error(`chat export consent: ${error instanceof Error ? error.message : String(error)}`);
  return page(
    500,
    'Something went wrong',
    'The consent could not be recorded: ask the administrator.',
    'problem',
  );
}

async function runningInstance(client: df.DurableClient, instanceId: string) {
  try {
    const status = await client.getStatus(instanceId);
    return [df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending].includes(
      status.runtimeStatus,
    )
      ? status
      : undefined;
  } catch (err) {
    if (err instanceof Error && /\b404\b/.test(err.message)) return undefined;
    throw err;
  }
}

async function startPass(
  client: df.DurableClient,
  userId: string,
  mode: ExportUserChatsInput['mode'],
): Promise<{ instanceId: string; started: boolean }> {
  const instanceId = chatExportInstanceId(userId);
  if (await runningInstance(client, instanceId)) return { instanceId, started: false };
  const input: ExportUserChatsInput = {
    userId,
    mode,
    concurrency: runtime().chatExportSettings?.concurrency ?? 1,
  };
  await client.startNew(ChatExportOrchestrator.exportUserChats, { instanceId, input });
  return { instanceId, started: true };
}

df.app.client.http('chatExportDiscover', {
  route: 'chat-export/discover',
  methods: ['POST', 'GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => {
    try {
      if (request.method === 'GET') return await discoveryView(client);
      const parsed = discoverSchema.safeParse(await jsonBody(request, true));
      if (!parsed.success) return { status: 400, jsonBody: { errors: issueMessages(parsed.error) } };
      const userMapCsv = parsed.data.userMap;
      if (userMapCsv) parseUserMap(userMapCsv);
      await chatExportService();
      if (!(await runningInstance(client, DISCOVERY_INSTANCE_ID))) {
        const input: DiscoverInput = userMapCsv ? { userMapCsv } : {};
        await client.startNew(ChatExportOrchestrator.discover, { instanceId: DISCOVERY_INSTANCE_ID, input });
        context.log('chat export: discovery started');
      }
      const statusUrl = new URL('/api/chat-export/discover', request.url).toString();
      return {
        status: 202,
        headers: { location: statusUrl },
        jsonBody: { status: 'running', statusUrl },
      };
    } catch (error) {
      return failure(error, context);
    }
  },
});

/** The last discovery: where it stands, what it found, and (once done) the source tenant's teams and channels. */
async function discoveryView(client: df.DurableClient): Promise<HttpResponseInit> {
  let status: df.DurableOrchestrationStatus | undefined;
  try {
    status = await client.getStatus(DISCOVERY_INSTANCE_ID);
  } catch (err) {
    if (!(err instanceof Error && /\b404\b/.test(err.message))) throw err;
  }
  if (!status)
    return {
      status: 404,
      jsonBody: { error: 'No discovery has run yet: POST /api/chat-export/discover first.' },
    };
  const progress = (status.customStatus ?? undefined) as DiscoveryStatus | undefined;
  const done = status.runtimeStatus === df.OrchestrationRuntimeStatus.Completed;
  const found = (done ? status.output : progress) as Partial<DiscoveryTotals> | undefined;
  return {
    status: 200,
    jsonBody: {
      runtimeStatus: status.runtimeStatus,
      stage: done ? 'done' : (progress?.stage ?? 'users'),
      users: found?.users ?? 0,
      added: found?.added ?? 0,
      ...(done
        ? { teams: await (await chatExportService()).listTeams() }
        : { teamsSoFar: found?.teams ?? 0 }),
      ...(status.runtimeStatus === df.OrchestrationRuntimeStatus.Failed
        ? { error: String(status.output) }
        : {}),
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
    },
  };
}

app.http('chatExportUsers', {
  route: 'chat-export/users',
  methods: ['GET', 'POST'],
  authLevel: 'function',
  handler: async (request, context) => {
    try {
      const service = await chatExportService();
      if (request.method === 'GET') return { status: 200, jsonBody: { users: await service.listUsers() } };
      const body = await jsonBody(request, false);
      if (body === undefined)
        return { status: 400, jsonBody: { errors: ['The body must be JSON: {"user": "<id or UPN>"}'] } };
      const parsed = addUserSchema.safeParse(body);
      if (!parsed.success) return { status: 400, jsonBody: { errors: issueMessages(parsed.error) } };
      return { status: 201, jsonBody: await service.addUser(parsed.data) };
    } catch (error) {
      return failure(error, context);
    }
  },
});

app.http('chatExportSendLinks', {
  route: 'chat-export/send-links',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, context) => {
    const body = await jsonBody(request, false);
    const parsed = sendLinksSchema.safeParse(body);
    if (!parsed.success) return { status: 400, jsonBody: { errors: issueMessages(parsed.error) } };
    try {
      return { status: 200, jsonBody: await (await chatExportService()).sendLinks(parsed.data) };
    } catch (error) {
      return failure(error, context);
    }
  },
});

app.http('chatExportConsent', {
  route: 'chat-export/consent',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request, context) => {
    const state = request.query.get('state');
    if (!state)
      return page(
        400,
        'This link cannot be used',
        'The link has no state: open the link from the e-mail as it is.',
        'problem',
      );
    try {
      const location = await (await chatExportService()).beginConsent(state);
      return {
        status: 302,
        headers: { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
      };
    } catch (error) {
      return consentProblem(error, context);
    }
  },
});

df.app.client.http('chatExportCallback', {
  route: 'chat-export/callback',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => {
    const state = request.query.get('state');
    const code = request.query.get('code');
    const denied = request.query.get('error');
    if (denied)
      return page(
        400,
        'Consent not given',
        `The sign-in ended without consent (${denied}): nothing will be exported. Open the link again to consent.`,
        'problem',
      );
    if (!state || !code)
      return page(
        400,
        'Consent not completed',
        'The answer of the sign-in has no code or state: open the link from the e-mail again.',
        'problem',
      );
    try {
      const user = await (await chatExportService()).completeConsent({ state, code });
      const pass = await startPass(client, user.id, 'full');
      context.log(
        `chat export: ${user.id} consented; pass ${pass.instanceId} ${pass.started ? 'started' : 'already running'}`,
      );
      return page(
        200,
        'Thank you: your chat export has started',
        `Your Teams chats are being copied to your OneDrive, folder TeamsHistory (${user.targetUpn}). You can close this page.`,
        'confirmation',
      );
    } catch (error) {
      return consentProblem(error, context);
    }
  },
});

df.app.client.http('chatExportStartDelta', {
  route: 'chat-export/users/{id}/delta',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => {
    try {
      const service = await chatExportService();
      const user = await service.getUser(request.params.id);
      if (!user)
        return {
          status: 404,
          jsonBody: { error: `No chat-export user '${request.params.id}': discover or add it first` },
        };
      if (!['consented', 'exported', 'failed', 'exporting'].includes(user.status))
        return {
          status: 409,
          jsonBody: {
            error: `User '${user.id}' is ${user.status}: a delta pass needs a consent; send the user a link`,
          },
        };
      const pass = await startPass(client, user.id, 'delta');
      if (!pass.started)
        return {
          status: 409,
          jsonBody: { error: `A pass for '${user.id}' is already running`, instanceId: pass.instanceId },
        };
      return { status: 202, jsonBody: { userId: user.id, instanceId: pass.instanceId } };
    } catch (error) {
      return failure(error, context);
    }
  },
});

df.app.client.http('chatExportUser', {
  route: 'chat-export/users/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => {
    try {
      const user = await (await chatExportService()).getUser(request.params.id);
      if (!user) return { status: 404, jsonBody: { error: `No chat-export user '${request.params.id}'` } };
      const running = await runningInstance(client, chatExportInstanceId(user.id));
      const progress = running?.customStatus as ExportUserChatsStatus | undefined;
      return {
        status: 200,
        jsonBody: { ...user, ...(running ? { running: true, progress } : { running: false }) },
      };
    } catch (error) {
      return failure(error, context);
    }
  },
});

const schedule = process.env.CHAT_EXPORT_DELTA_SCHEDULE;
if (schedule) {
  df.app.client.timer('chatExportDelta', {
    schedule,
    handler: async (_timer: unknown, client: df.DurableClient, context: InvocationContext) => {
      const service = await chatExportService();
      for (const user of await service.listUsers()) {
        if (user.status !== 'exported' && user.status !== 'failed') continue;
        const pass = await startPass(client, user.id, 'delta');
        if (pass.started) context.log(`chat export: delta pass ${pass.instanceId} started`);
      }
    },
  });
}

for (const name of Object.values(ChatExportActivity)) {
  df.app.activity(name, {
    handler: async (input: unknown) =>
      createChatExportActivities(await chatExportService())[name](input as never),
  });
}
