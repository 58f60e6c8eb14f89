import { clockTime, rateText, renderThroughputChart } from './chart';
import type { MigrationDashboard } from './dashboard';
import { html, raw, type Html } from './html';
import { renderPasses } from './reportHtml';
import { PAGE_STYLE_HASH, styleElement } from './style';
import { formatDuration } from './throughput';

/** Where the live pages' script is served (anonymous: it holds no data). */
export const DASHBOARD_SCRIPT_PATH = '/api/dashboard/assets/dashboard.js';

/** The live pages' Content-Security-Policy: their own script and JSON only, the stylesheet by its hash. */
export const DASHBOARD_CSP =
  `default-src 'none'; script-src 'self'; connect-src 'self'; style-src ${PAGE_STYLE_HASH}; img-src 'self' data:; ` +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** One migration in the list of migrations (`GET /api/migrations`). */
export interface MigrationListItem {
  id: string;
  instanceId: string;
  team: string;
  phase: string;
  runtimeStatus: string;
  counts: {
    channelsDone: number;
    channelsTotal: number;
    messagesPosted: number;
    messagesTotal: number;
    failed: number;
    missing: number;
    throttled: number;
  };
  createdTime: string;
  lastUpdatedTime: string;
}

/** Links of the pages: built by the route, carrying the function key when the page was opened with one. */
export interface PageLinks {
  /** The JSON the page polls. */
  poll: string;
  list: string;
  /** A migration's live page, its report page. */
  dashboard: (id: string) => string;
  report: (id: string) => string;
  /** Milliseconds between polls. */
  intervalMs: number;
}

const percent = (part: number, whole: number): string =>
  whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '0%';

function summarySection(d: MigrationDashboard): Html {
  const t = d.totals;
  const rate = d.throughput.ratePerSecond;
  const eta = d.ended
    ? 'none: the migration has ended'
    : d.eta
      ? `about ${formatDuration(d.eta.seconds)} (around ${d.eta.at.slice(11, 16)} UTC), from the measured rate and the ${t.notTried} messages left`
      : 'not known yet: no messages posted in the last 5 minutes';
  return html`<p>
      Phase <b id="phase">${d.phase}</b>${
        d.staging
          ? html` (${d.staging.planned} of ${d.staging.items} channels and conversations planned)`
          : ''
      }
      · orchestration
      ${d.runtimeStatus}${d.lastError ? html` · <span class="error">${d.lastError}</span>` : ''}
    </p>
    <p>
      <label for="overall"
        >${t.posted} of ${t.planned} messages posted (${percent(t.posted, t.planned)})</label
      >
      <progress id="overall" max="${Math.max(t.planned, 1)}" value="${t.posted}">
        ${percent(t.posted, t.planned)}
      </progress>
    </p>
    <ul class="figures">
      <li><b id="posted-count">${t.posted}</b> posted</li>
      <li><b>${t.failed}</b> failed</li>
      <li><b>${t.missing}</b> missing</li>
      <li><b>${t.notTried}</b> not tried yet</li>
      <li><b>${t.channelsDone}</b> of ${t.channels} channels done, ${t.channelsInFlight} in flight</li>
      <li><b>${t.throttled}</b> throttled requests</li>
      <li><b>${rate !== undefined ? rateText(rate) : '–'}</b> messages/s (measured, last 5 minutes)</li>
    </ul>
    <p>Time left: <span id="eta">${eta}</span></p>
    ${d.waiting.length ? html`<p class="warning">The service asked for a pause: ${d.waiting.map((w, i) => html`${i ? '; ' : ''}${w.channel} waits until ${w.until}`)}.</p>` : ''}`;
}

function channelsSection(d: MigrationDashboard): Html {
  if (d.channels.length === 0)
    return html`<p>No channels yet: they are listed once the export is staged.</p>`;
  return html`<table>
    <caption>
      Progress per channel (messages tried of planned)
    </caption>
    <thead>
      <tr>
        <th scope="col" class="text">channel</th>
        <th scope="col" class="text">state</th>
        <th scope="col" class="text">progress</th>
        <th scope="col">posted</th>
        <th scope="col">failed</th>
        <th scope="col">missing</th>
        <th scope="col">planned</th>
        <th scope="col">throttled</th>
      </tr>
    </thead>
    <tbody>
      ${d.channels.map((c) => {
        const tried = c.posted + c.failed + c.missing;
        const state =
          c.waitingUntil && !d.ended
            ? `${c.state}, waiting for the service until ${c.waitingUntil}`
            : c.state;
        return html`<tr class="${c.failed > 0 || c.error ? 'bad' : ''}">
          <th scope="row" class="text">${c.teamsName}</th>
          <td class="text">${state}</td>
          <td class="text">
            <progress
              max="${Math.max(c.planned, 1)}"
              value="${tried}"
              aria-label="${c.teamsName}: ${tried} of ${c.planned} tried"
            >
              ${percent(tried, c.planned)}
            </progress>
            ${percent(tried, c.planned)}
          </td>
          <td>${c.posted}</td>
          <td>${c.failed}</td>
          <td>${c.missing}</td>
          <td>${c.planned}</td>
          <td>${c.throttled}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function failuresSection(d: MigrationDashboard): Html {
  const troubled = d.channels.filter((c) => c.why.length > 0 || c.lastError || c.error);
  if (troubled.length === 0) return html`<p>No failures.</p>`;
  return html`<ul>
    ${troubled.map(
      (c) =>
        html`<li>
          <b>${c.teamsName}</b>
          <ul>
            ${c.lastError ? html`<li>Latest failure: ${c.lastError}</li>` : ''}${c.why.map((w) => html`<li>${w}</li>`)}
          </ul>
        </li>`,
    )}
  </ul>`;
}

/** The parts of a migration's page the script replaces on each poll, by element id. */
export function dashboardFragments(d: MigrationDashboard): Record<string, string> {
  const series = d.throughput.series.map((b) => ({ minute: Date.parse(b.minute), messages: b.messages }));
  return {
    summary: summarySection(d).text,
    channels: channelsSection(d).text,
    failures: failuresSection(d).text,
    throughput: renderThroughputChart(series, 'chart').text,
    passes: renderPasses(d.passes).text,
    updated: html`Updated ${d.generatedAt.slice(11, 19)}
    UTC${d.ended ? ': the migration has ended, the page no longer refreshes.' : '.'}`.text,
  };
}

function section(id: string, title: string, fragment: string): Html {
  return html`<section aria-labelledby="${id}-h">
    <h2 id="${id}-h">${title}</h2>
    <div id="${id}">${raw(fragment)}</div>
  </section>`;
}

function page(title: string, links: PageLinks, nav: Html, body: Html, updated: string): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
        ${styleElement()}
      </head>
      <body>
        <header>
          <nav aria-label="Migrations">${nav}</nav>
          <h1>${title}</h1>
        </header>
        <main id="live" data-poll="${links.poll}" data-interval="${links.intervalMs}">${body}</main>
        <footer><p id="updated" class="meta">${raw(updated)}</p></footer>
        <script src="${DASHBOARD_SCRIPT_PATH}"></script>
      </body>
    </html> `.text;
}

/** The live page of one migration, rendered with its current state; the script refreshes it in place. */
export function renderDashboardPage(d: MigrationDashboard, links: PageLinks): string {
  const f = dashboardFragments(d);
  const body = html`<p class="meta">
      Migration <code>${d.id}</code> (instance
      <code>${d.instanceId}</code>)${d.createdTime ? ` · started ${d.createdTime}` : ''}
    </p>
    <p id="poll-status" role="status" class="meta no-print">
      ${d.ended ? 'The migration has ended.' : `Refreshes every ${Math.round(links.intervalMs / 1000)} s.`}
    </p>
    ${section('summary', 'Where it stands', f.summary)} ${section('channels', 'Channels', f.channels)}
    ${section('failures', 'Failures and what is missing', f.failures)}
    ${section('throughput', 'Messages per second', f.throughput)} ${section('passes', 'Passes', f.passes)}`;
  const nav = html`<a href="${links.list}">All migrations</a><a href="${links.report(d.id)}">Report</a>`;
  return page(`${d.team || d.id}: ${d.phase}`, links, nav, body, f.updated);
}

/** The list of migrations as the list page's table. */
export function migrationsFragment(items: MigrationListItem[], links: PageLinks, more: boolean): string {
  if (items.length === 0)
    return html`<p>No migrations yet: start one with POST /api/migrations or teams-import run.</p>`.text;
  return html`<table>
    <caption>
      Migrations${more ? ' (the first page; GET /api/migrations pages through the rest)' : ''}
    </caption>
    <thead>
      <tr>
        <th scope="col" class="text">migration</th>
        <th scope="col" class="text">team</th>
        <th scope="col" class="text">phase</th>
        <th scope="col" class="text">progress</th>
        <th scope="col">failed</th>
        <th scope="col">missing</th>
        <th scope="col" class="text">started</th>
        <th scope="col" class="text">updated</th>
      </tr>
    </thead>
    <tbody>
      ${items.map(
        (m) =>
          html`<tr class="${m.phase === 'failed' || m.phase === 'needs-attention' ? 'bad' : ''}">
            <th scope="row" class="text"><a href="${links.dashboard(m.id)}">${m.id}</a></th>
            <td class="text">${m.team}</td>
            <td class="text">${m.phase} (${m.runtimeStatus})</td>
            <td class="text">
              <progress
                max="${Math.max(m.counts.messagesTotal, 1)}"
                value="${m.counts.messagesPosted}"
                aria-label="${m.id}: ${m.counts.messagesPosted} of ${m.counts.messagesTotal} messages posted"
              >
                ${percent(m.counts.messagesPosted, m.counts.messagesTotal)}
              </progress>
              ${m.counts.messagesPosted} / ${m.counts.messagesTotal} messages, ${m.counts.channelsDone} /
              ${m.counts.channelsTotal} channels
            </td>
            <td>${m.counts.failed}</td>
            <td>${m.counts.missing}</td>
            <td class="text">${m.createdTime}</td>
            <td class="text">${m.lastUpdatedTime}</td>
          </tr>`,
      )}
    </tbody>
  </table>`.text;
}

/** The list page of migrations; the script refreshes the table in place. */
export function renderListPage(
  items: MigrationListItem[],
  links: PageLinks,
  more: boolean,
  now: number,
): string {
  const body = html`<p id="poll-status" role="status" class="meta no-print">
      Refreshes every ${Math.round(links.intervalMs / 1000)} s.
    </p>
    ${section('migrations', 'Migrations', migrationsFragment(items, links, more))}`;
  return page(
    'Migrations',
    links,
    html`<a href="${links.list}">All migrations</a>`,
    body,
    `Updated ${clockTime(now)} UTC.`,
  );
}
