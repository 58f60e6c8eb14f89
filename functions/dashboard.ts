import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import {
  dashboardFragments,
  DASHBOARD_CSP,
  migrationsFragment,
  renderDashboardPage,
  renderListPage,
  type PageLinks,
} from '../core/operations/dashboardPage';
import { DASHBOARD_SCRIPT } from '../core/operations/dashboardScript';
import { lookupMigration } from './migrationLookup';
import { loadDashboard } from './migrationViews';
import { migrationPage, pageQuery } from './operations';
import { runtime } from './runtime';

const DEFAULT_INTERVAL_MS = 2000;

/** Milliseconds between polls: `?interval=` seconds (0.5 to 60), else 2 s. */
function intervalOf(request: HttpRequest): number | undefined {
  const text = request.query.get('interval');
  if (text === null) return DEFAULT_INTERVAL_MS;
  const seconds = Number(text);
  return Number.isFinite(seconds) && seconds >= 0.5 && seconds <= 60 ? Math.round(seconds * 1000) : undefined;
}

/** The pages' links, carrying the function key (`?code=`) when the page was opened with one. */
function linksFor(request: HttpRequest, poll: string, intervalMs: number): PageLinks {
  const code = request.query.get('code');
  const params = (extra: Record<string, string> = {}): string => {
    const q = new URLSearchParams({ ...extra, ...(code ? { code } : {}) }).toString();
    return q ? `?${q}` : '';
  };
  const interval: Record<string, string> =
    intervalMs === DEFAULT_INTERVAL_MS ? {} : { interval: String(intervalMs / 1000) };
  return {
    poll: `${poll}${params({ format: 'json' })}`,
    list: `/api/dashboard${params(interval)}`,
    dashboard: (id) => `/api/migrations/${encodeURIComponent(id)}/dashboard${params(interval)}`,
    report: (id) => `/api/migrations/${encodeURIComponent(id)}/report${params({ format: 'html' })}`,
    intervalMs,
  };
}

const pageHeaders = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': DASHBOARD_CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const badInterval: HttpResponseInit = {
  status: 400,
  jsonBody: { error: 'interval must be a number of seconds from 0.5 to 60.' },
};

df.app.client.http('migrationDashboard', {
  route: 'migrations/{id}/dashboard',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> => {
    const intervalMs = intervalOf(request);
    if (intervalMs === undefined) return badInterval;
    const found = await lookupMigration(client, request.params.id);
    if (!found.found) return found.response;
    const deps = await runtime().pipelineDeps();
    const dashboard = await loadDashboard(deps, found.migrationId, found.instanceId, found.status);
    const links = linksFor(
      request,
      `/api/migrations/${encodeURIComponent(found.migrationId)}/dashboard`,
      intervalMs,
    );
    if (request.query.get('format') === 'json')
      return {
        status: 200,
        headers: { 'cache-control': 'no-store' },
        jsonBody: {
          ...dashboard,
          title: `${dashboard.team || dashboard.id}: ${dashboard.phase}`,
          fragments: dashboardFragments(dashboard),
        },
      };
    return { status: 200, headers: pageHeaders, body: renderDashboardPage(dashboard, links) };
  },
});

df.app.client.http('dashboardList', {
  route: 'dashboard',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> => {
    const intervalMs = intervalOf(request);
    if (intervalMs === undefined) return badInterval;
    const query = pageQuery(request);
    if ('error' in query) return query.error;
    const deps = await runtime().pipelineDeps();
    const answer = await migrationPage(client, deps, query);
    if (!answer.page) return answer;
    const links = linksFor(request, '/api/dashboard', intervalMs);
    const more = !!answer.page.continuationToken;
    if (request.query.get('format') === 'json')
      return {
        status: 200,
        headers: { 'cache-control': 'no-store' },
        jsonBody: {
          ...answer.page,
          ended: false,
          fragments: { migrations: migrationsFragment(answer.page.items, links, more) },
        },
      };
    return {
      status: 200,
      headers: pageHeaders,
      body: renderListPage(answer.page.items, links, more, deps.now()),
    };
  },
});

app.http('dashboardAssets', {
  route: 'dashboard/assets/{name}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: (request: HttpRequest): HttpResponseInit => {
    if (request.params.name !== 'dashboard.js')
      return {
        status: 404,
        jsonBody: { error: `No dashboard asset '${request.params.name.slice(0, 100)}'.` },
      };
    return {
      status: 200,
      headers: {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=300',
        'x-content-type-options': 'nosniff',
      },
      body: DASHBOARD_SCRIPT,
    };
  },
});
