import { html, type Html } from './html';
import type { MinuteBucket } from './throughput';

const MINUTE_MS = 60_000;
/** Up to this many minutes each point is also marked, so a short run (one minute: one point) shows. */
const MARKED_POINTS = 90;

/** A minute as `HH:MM` UTC. */
export function clockTime(minute: number): string {
  return new Date(minute).toISOString().slice(11, 16);
}

/** Messages per second with one decimal (two below 1). */
export function rateText(perSecond: number): string {
  return perSecond >= 1 || perSecond === 0 ? perSecond.toFixed(1) : perSecond.toFixed(2);
}

/** The series from its first minute to its last, a point a minute, minutes with no post at 0. */
export function everyMinute(series: readonly MinuteBucket[]): MinuteBucket[] {
  if (series.length === 0) return [];
  const byMinute = new Map(series.map((b) => [b.minute, b.messages]));
  const out: MinuteBucket[] = [];
  for (let m = series[0].minute; m <= series[series.length - 1].minute; m += MINUTE_MS)
    out.push({ minute: m, messages: byMinute.get(m) ?? 0 });
  return out;
}

/** What the chart says in words: the span, the peak minute, the average and the latest rate. */
export function describeThroughput(series: readonly MinuteBucket[]): string {
  const points = everyMinute(series);
  if (points.length === 0) return 'No messages posted yet.';
  const peak = points.reduce((a, b) => (b.messages > a.messages ? b : a));
  const total = points.reduce((n, b) => n + b.messages, 0);
  const first = points[0].minute;
  const last = points[points.length - 1].minute;
  return (
    `Messages posted per second, one point a minute, from ${clockTime(first)} to ${clockTime(last + MINUTE_MS)} UTC: ` +
    `peak ${rateText(peak.messages / 60)}/s at ${clockTime(peak.minute)}, ` +
    `average ${rateText(total / (points.length * 60))}/s, latest ${rateText(points[points.length - 1].messages / 60)}/s ` +
    `(${total} messages in ${points.length} minute${points.length === 1 ? '' : 's'}).`
  );
}

/**
 * The measured throughput as an SVG line chart (messages per second, a point a minute) with its text
 * alternative (title, description and the figures in a table), drawn here in plain SVG: no script, no style
 * attribute, so it renders in a page with a strict Content-Security-Policy, in a saved report and in print.
 */
export function renderThroughputChart(series: readonly MinuteBucket[], id = 'throughput'): Html {
  const points = everyMinute(series);
  if (points.length === 0)
    return html`<p class="chart-empty" id="${id}-empty">
      No messages posted yet: the chart shows the measured rate once posting begins.
    </p>`;
  const width = 640;
  const height = 160;
  const left = 44;
  const right = 8;
  const top = 10;
  const bottom = 24;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const peak = Math.max(...points.map((p) => p.messages / 60));
  const yMax = peak > 0 ? peak : 1;
  const x = (i: number): number =>
    points.length === 1 ? left + plotW / 2 : left + (plotW * i) / (points.length - 1);
  const y = (perSecond: number): number => top + plotH - (plotH * perSecond) / yMax;
  const coords = points.map((p, i) => `${x(i).toFixed(1)},${y(p.messages / 60).toFixed(1)}`).join(' ');
  const area = `${x(0).toFixed(1)},${(top + plotH).toFixed(1)} ${coords} ${x(points.length - 1).toFixed(1)},${(top + plotH).toFixed(1)}`;
  const markers = points.map(
    (p, i) =>
      html`<circle cx="${x(i).toFixed(1)}" cy="${y(p.messages / 60).toFixed(1)}" r="3" fill="#0b5cad" />`,
  );
  const description = describeThroughput(series);
  const rows = points.map(
    (p) =>
      html`<tr>
        <th scope="row">${clockTime(p.minute)}</th>
        <td>${p.messages}</td>
        <td>${rateText(p.messages / 60)}</td>
      </tr>`,
  );
  return html`<figure class="chart" id="${id}">
    <svg
      xmlns="http://www.w3.org/2000/svg"
      viewBox="0 0 ${width} ${height}"
      width="100%"
      role="img"
      aria-labelledby="${id}-title ${id}-desc"
      preserveAspectRatio="xMidYMid meet"
    >
      <title id="${id}-title">Measured throughput</title>
      <desc id="${id}-desc">${description}</desc>
      <line
        x1="${left}"
        y1="${top + plotH}"
        x2="${width - right}"
        y2="${top + plotH}"
        stroke="#767676"
        stroke-width="1"
      />
      <line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#767676" stroke-width="1" />
      <text x="${left - 4}" y="${top + 4}" text-anchor="end" font-size="11" fill="#333">
        ${rateText(yMax)}/s
      </text>
      <text x="${left - 4}" y="${top + plotH}" text-anchor="end" font-size="11" fill="#333">0</text>
      <text x="${left}" y="${height - 6}" font-size="11" fill="#333">${clockTime(points[0].minute)}</text>
      <text x="${width - right}" y="${height - 6}" text-anchor="end" font-size="11" fill="#333">
        ${clockTime(points[points.length - 1].minute + MINUTE_MS)} UTC
      </text>
      <polygon class="chart-area" points="${area}" fill="#cfe3f7" stroke="none" />
      <polyline class="chart-line" points="${coords}" fill="none" stroke="#0b5cad" stroke-width="2" />
      ${points.length <= MARKED_POINTS ? markers : ''}
    </svg>
    <figcaption>${description}</figcaption>
    <details>
      <summary>The figures, minute by minute</summary>
      <table>
        <caption>
          Messages posted per minute (UTC)
        </caption>
        <thead>
          <tr>
            <th scope="col">minute</th>
            <th scope="col">messages</th>
            <th scope="col">per second</th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
    </details>
  </figure>`;
}
