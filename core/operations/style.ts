import { createHash } from 'node:crypto';
import { raw, type Html } from './html';

/** The stylesheet of the report and the live pages: readable on screen, plain in print. */
export const PAGE_STYLE = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fff}
header,main,footer{max-width:72rem;margin:0 auto;padding:0 1.5rem}
header{padding-top:1rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .5rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}caption{text-align:left;font-weight:600;padding:.25rem 0}
td,th{border:1px solid #c8c8c8;padding:3px 8px;text-align:right;vertical-align:top}
th[scope=col]{background:#f3f3f3}td.text,th.text,th[scope=row]{text-align:left}
tr.bad td,tr.bad th{background:#fdecec}
.meta{color:#444}.error{color:#a00}.warning{color:#8a5300}
.figures{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;padding:0;margin:.5rem 0;list-style:none}
.figures li b{font-size:1.2rem}
progress{width:12rem;height:1rem;vertical-align:middle}
.chart svg{max-width:40rem;height:auto;border:1px solid #e3e3e3}
.chart figcaption{color:#444;max-width:40rem}
nav a{margin-right:1rem}
a{color:#0b5cad}
@media print{
  nav,.no-print{display:none}
  body{font-size:11pt}header,main,footer{max-width:none;padding:0}
  details{display:block}details>summary{display:none}details table{display:table}
  tr,li,figure{break-inside:avoid}
  a{color:inherit;text-decoration:none}
  progress{border:1px solid #000}
}
`;

/** The Content-Security-Policy hash source of {@link PAGE_STYLE}, so the pages need no 'unsafe-inline'. */
export const PAGE_STYLE_HASH = `'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'`;

/** The `<style>` element of the pages: exactly {@link PAGE_STYLE}, so its hash matches the policy's. */
export function styleElement(): Html {
  return raw(`<style>${PAGE_STYLE}</style>`);
}
