import type { ChannelReport, MigrationReport, PassReport } from '../pipeline/report';
import { renderThroughputChart } from './chart';
import { html, raw, type Html } from './html';
import { PAGE_STYLE_HASH, styleElement } from './style';

const reasonsText = (counts: Partial<Record<string, number>>): string =>
  Object.entries(counts)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([reason, n]) => `${reason}: ${n}`)
    .join(', ') || '0';

const sumOf = (counts: Partial<Record<string, number>>): number =>
  Object.values(counts).reduce<number>((n, k) => n + (k ?? 0), 0);

/** The passes of a migration, oldest first, or a sentence saying none is recorded. */
export function renderPasses(passes: readonly PassReport[] | undefined): Html {
  if (!passes || passes.length === 0) return html`<p id="passes-none">No passes recorded.</p>`;
  return html`<ol class="passes">
    ${passes.map(
      (p) =>
        html`<li>
          <b>${p.kind}</b> from ${p.source}: started
          ${p.startedAt}${p.finishedAt ? html`, finished ${p.finishedAt}` : ' (running)'} · ${p.outcome} ·
          ${p.newMessages} new, ${p.posted} posted, ${p.failed} failed, ${p.editedInSlack} edited and
          ${p.deletedInSlack} deleted in Slack after
          import${p.error ? html` · <span class="error">${p.error}</span>` : ''}
        </li>`,
    )}
  </ol>`;
}

/** Imported messages edited or deleted in Slack afterwards, per channel, with links to both sides. */
function renderChangedInSlack(channels: readonly ChannelReport[]): Html | string {
  const changed = channels.filter((c) => c.editedInSlack + c.deletedInSlack > 0);
  if (changed.length === 0) return '';
  return html`<section aria-labelledby="changed-h">
    <h2 id="changed-h">Changed in Slack after import</h2>
    <p>
      The import cannot replay edits or deletions made in Slack after a message was imported; these messages
      show their imported content in Teams.
    </p>
    <ul>
      ${changed.map(
        (c) =>
          html`<li>
            <b>${c.teamsName}</b>: ${c.editedInSlack} edited, ${c.deletedInSlack} deleted
            <ul>
              ${c.changedInSlack.map(
                (m) =>
                  html`<li>
                    ${m.key}: ${m.change} in Slack after
                    import${m.teamsLink ? html` · <a href="${m.teamsLink}">in Teams</a>` : ''}${m.slackLink ? html` · <a href="${m.slackLink}">in Slack</a>` : ''}
                  </li>`,
              )}
            </ul>
          </li>`,
      )}
    </ul>
  </section>`;
}

function channelRow(c: ChannelReport): Html {
  return html`<tr class="${c.why.length > 0 ? 'bad' : ''}">
    <th scope="row" class="text">${c.source}</th>
    <td class="text">${c.teamsName}${c.membershipType === 'private' ? ' (private)' : ''}</td>
    <td class="text">${c.notCreated ? 'not created' : c.state}</td>
    <td>${c.sourceMessages}</td>
    <td>${c.planned}</td>
    <td>${c.posted}</td>
    <td>${c.failed}</td>
    <td>${c.missing}</td>
    <td>${c.notTried}</td>
    <td class="text">${reasonsText(c.skipped)}</td>
    <td>${c.split}</td>
    <td>${c.timestampBumps}</td>
    <td>${c.throttled}</td>
    <td>${c.reactionsAsText}</td>
    <td>${c.elapsedSeconds ?? ''}</td>
  </tr>`;
}

/**
 * Renders the report as one self-contained HTML page a customer can read: the summary first (what moved,
 * what did not and why), the passes, the measured throughput, each channel's counts with its skipped and
 * failed reasons, the people and how they were matched, files, mentions and reactions native and as
 * fallbacks, then the failed and missing messages and the export's problems. Every value is escaped.
 */
export function renderReportHtml(report: MigrationReport): string {
  const t = report.totals;
  const series = report.throughput.series.map((b) => ({
    minute: Date.parse(b.minute),
    messages: b.messages,
  }));
  const why = report.channels.filter((c) => c.why.length > 0);
  const failures = report.channels.flatMap((c) => c.failures.map((f) => ({ channel: c.teamsName, ...f })));
  const missing = report.channels.flatMap((c) =>
    c.missingMessages.map((m) => ({ channel: c.teamsName, ...m })),
  );
  const content = report.content;
  const people = report.users.people;
  const byMatch = Object.entries(report.users.byMatch)
    .map(([how, n]) => `${how}: ${n}`)
    .join(', ');
  const page = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta
          http-equiv="Content-Security-Policy"
          content="default-src 'none'; style-src ${raw(PAGE_STYLE_HASH)}; img-src data:"
        />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Migration report: ${report.team.displayName}</title>
        ${styleElement()}
      </head>
      <body>
        <header>
          <h1>Migration report: ${report.team.displayName}</h1>
          <p class="meta">
            Run <code>${report.runId}</code> · phase <b>${report.phase}</b> · team id
            <code>${report.team.teamId ?? 'not created'}</code> · generated
            ${report.generatedAt}${report.elapsedSeconds !== undefined ? ` · ${report.elapsedSeconds} s since the run began` : ''}
          </p>
        </header>
        <main>
          <section aria-labelledby="summary-h">
            <h2 id="summary-h">Summary</h2>
            <ul class="figures">
              <li><b>${t.posted}</b> of ${t.planned} planned messages posted</li>
              <li><b>${t.failed}</b> failed</li>
              <li><b>${t.missing}</b> missing</li>
              <li><b>${t.skipped}</b> skipped on purpose</li>
              <li><b>${t.throttled}</b> throttled requests</li>
            </ul>
            <h3>What moved</h3>
            <ul>
              ${report.summary.moved.map((s) => html`<li>${s}</li>`)}
            </ul>
            <h3>What is missing and why</h3>
            <ul>
              ${report.summary.notMoved.map((s) => html`<li>${s}</li>`)}
            </ul>
          </section>
          <section aria-labelledby="passes-h">
            <h2 id="passes-h">Passes</h2>
            ${renderPasses(report.passes)}
          </section>
          <section aria-labelledby="throughput-h">
            <h2 id="throughput-h">Throughput</h2>
            ${report.throughput.peakPerSecond !== undefined ? html`<p>Peak ${report.throughput.peakPerSecond.toFixed(1)} messages/s (a minute's average), ${(report.throughput.averagePerSecond ?? 0).toFixed(1)}/s over the minutes the run posted.</p>` : ''}
            ${renderThroughputChart(series)}
          </section>
          <section aria-labelledby="channels-h">
            <h2 id="channels-h">Channels</h2>
            <table>
              <caption>
                Messages per channel
              </caption>
              <thead>
                <tr>
                  <th scope="col" class="text">Slack</th>
                  <th scope="col" class="text">Teams</th>
                  <th scope="col" class="text">state</th>
                  <th scope="col">in Slack</th>
                  <th scope="col">planned</th>
                  <th scope="col">posted</th>
                  <th scope="col">failed</th>
                  <th scope="col">missing</th>
                  <th scope="col">not tried</th>
                  <th scope="col" class="text">skipped (why)</th>
                  <th scope="col">split</th>
                  <th scope="col">time bumps</th>
                  <th scope="col">throttled</th>
                  <th scope="col">reactions refused</th>
                  <th scope="col">seconds</th>
                </tr>
              </thead>
              <tbody>
                ${report.channels.map(channelRow)}
              </tbody>
            </table>
            ${
              why.length
                ? html`<h3>Per channel: what is missing and why</h3>
                    <ul>
                      ${why.map(
                        (c) =>
                          html`<li>
                            <b>${c.teamsName}</b>
                            <ul>
                              ${c.why.map((w) => html`<li>${w}</li>`)}
                            </ul>
                          </li>`,
                      )}
                    </ul>`
                : ''
            }
          </section>
          ${renderChangedInSlack(report.channels)}
          <section aria-labelledby="users-h">
            <h2 id="users-h">People</h2>
            <p>
              ${report.users.matched} matched · ${report.users.unmatched}
              unmatched${report.users.fallback ? `, posted as ${report.users.fallback} with their names shown` : ''}${byMatch ? ` · by ${byMatch}` : ''}
            </p>
            ${
              people.length
                ? html`<table>
                    <caption>
                      Slack accounts and who their messages post as
                    </caption>
                    <thead>
                      <tr>
                        <th scope="col" class="text">name</th>
                        <th scope="col" class="text">Slack id</th>
                        <th scope="col" class="text">account</th>
                        <th scope="col" class="text">matched by</th>
                        <th scope="col" class="text">posts as</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${people.map(
                        (p) =>
                          html`<tr class="${p.kind === 'person' && p.matchedBy === 'unmatched' ? 'bad' : ''}">
                            <th scope="row" class="text">${p.name}</th>
                            <td class="text"><code>${p.sourceId}</code></td>
                            <td class="text">
                              ${p.kind === 'person' ? 'person' : p.kind === 'bot' ? 'bot' : 'deleted user'}
                            </td>
                            <td class="text">
                              ${p.matchedBy === 'unmatched' ? 'not matched (fallback account)' : p.matchedBy === 'email' ? 'e-mail' : p.matchedBy}
                            </td>
                            <td class="text">${p.postsAs ?? ''}</td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>`
                : ''
            }
          </section>
          <section aria-labelledby="content-h">
            <h2 id="content-h">Files, mentions and reactions</h2>
            <table>
              <caption>
                Native in Teams, and fallbacks with their reasons
              </caption>
              <thead>
                <tr>
                  <th scope="col" class="text">what</th>
                  <th scope="col">native</th>
                  <th scope="col">fallback</th>
                  <th scope="col" class="text">fallbacks by reason</th>
                </tr>
              </thead>
              <tbody>
                <tr>
                  <th scope="row" class="text">files</th>
                  <td>
                    ${content.files.inline + content.files.sharepoint} (${content.files.inline} inline images,
                    ${content.files.sharepoint} in SharePoint)
                  </td>
                  <td>${sumOf(content.files.fallback)}</td>
                  <td class="text">${reasonsText(content.files.fallback)}</td>
                </tr>
                <tr>
                  <th scope="row" class="text">mentions</th>
                  <td>${content.mentions.native}</td>
                  <td>${sumOf(content.mentions.text)}</td>
                  <td class="text">${reasonsText(content.mentions.text)}</td>
                </tr>
                <tr>
                  <th scope="row" class="text">reactions</th>
                  <td>${content.reactions.native}</td>
                  <td>${sumOf(content.reactions.text)}</td>
                  <td class="text">
                    ${reasonsText(content.reactions.text)}${content.reactions.refusedAsText ? `; ${content.reactions.refusedAsText} messages' reactions refused by the service and shown as text` : ''}
                  </td>
                </tr>
              </tbody>
            </table>
          </section>
          ${
            failures.length
              ? html`<section aria-labelledby="failed-h">
                  <h2 id="failed-h">Failed messages</h2>
                  <ul>
                    ${failures.map((f) => html`<li><b>${f.channel}</b> ${f.key}: ${f.error}</li>`)}
                  </ul>
                </section>`
              : ''
          }
          ${
            missing.length
              ? html`<section aria-labelledby="missing-h">
                  <h2 id="missing-h">Messages that can no longer be imported</h2>
                  <ul>
                    ${missing.map((m) => html`<li><b>${m.channel}</b> ${m.key}: ${m.reason}</li>`)}
                  </ul>
                </section>`
              : ''
          }
          ${
            report.chats?.length
              ? html`<section aria-labelledby="chats-h">
                  <h2 id="chats-h">Direct messages and group DMs</h2>
                  <table>
                    <caption>
                      Each conversation: where it went, and its messages
                    </caption>
                    <thead>
                      <tr>
                        <th scope="col">Conversation</th>
                        <th scope="col">Went to</th>
                        <th scope="col">Planned</th>
                        <th scope="col">Imported</th>
                        <th scope="col">Failed</th>
                        <th scope="col">Why</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${report.chats.map(
                        (c) =>
                          html`<tr>
                            <th scope="row">${c.label}</th>
                            <td>${c.way === 'chat' ? 'Teams chat' : 'OneDrive'}</td>
                            <td>${c.planned}</td>
                            <td>${c.posted}</td>
                            <td>${c.failed}</td>
                            <td>${c.reason ?? c.error ?? ''}</td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>
                </section>`
              : ''
          }
          ${
            report.notImported.length
              ? html`<section aria-labelledby="notimported-h">
                  <h2 id="notimported-h">Not imported</h2>
                  <ul>
                    ${report.notImported.map((c) => html`<li>${c.name} (${c.kind}, ${c.messages} messages): ${c.reason}</li>`)}
                  </ul>
                </section>`
              : ''
          }
          ${
            report.problems.length
              ? html`<section aria-labelledby="problems-h">
                  <h2 id="problems-h">Problems found in the export</h2>
                  <ul>
                    ${report.problems.map((p) => html`<li class="${p.severity}">${p.severity}: ${p.message}</li>`)}
                  </ul>
                </section>`
              : ''
          }
        </main>
      </body>
    </html> `;
  return page.text;
}
