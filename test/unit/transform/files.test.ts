import { join } from 'node:path';
import { FileNamer, numberedName, sharePointName } from '../../../core/files/names';
import type { SourceMessage } from '../../../core/model';
import { readSlackMessage } from '../../../core/sources/slack/messages';
import type { RenderNames } from '../../../core/transform/mrkdwn';
import { renderMessage, type RenderOptions } from '../../../core/transform/render';
import { EXPORT_2016, SLACK_FIXTURES, ZULIP, readJson } from '../../support/fixtures';

type Raw = Record<string, unknown> & { ts: string; files?: Array<Record<string, unknown>> };
const names: RenderNames = { user: () => 'Ada', channel: () => undefined };
const options: RenderOptions = { canDownloadFiles: false, channelKey: 'C1' };
const MODES = readJson<Raw[]>(join(SLACK_FIXTURES, 'files', 'modes.json'));
const read = (raw: unknown): SourceMessage => {
  const r = readSlackMessage(raw, 'C1', { isBotUser: () => false }, () => undefined);
  if (!r.ok) throw new Error(r.reason);
  return r.message;
};
const mode = (m: string): Raw => MODES.find((r) => r.files?.[0]?.mode === m || r.files?.[0]?.id === m)!;
const render = (raw: Raw, opts: RenderOptions = options) => renderMessage(read(raw), names, opts);

describe('file modes, golden', () => {
  it('tombstone: a notice that the file was deleted, nothing to download', () => {
    const r = render(mode('tombstone'));
    expect(r.files).toEqual([]);
    expect(r.blocks).toEqual(['<p>📎 <em>(a file that was deleted in Slack)</em></p>']);
    expect(r.fileCounts).toEqual({ inline: 0, sharepoint: 0, fallback: { deleted: 1 } });
  });

  it("hidden_by_limit: a notice that Slack's free plan hid it, nothing to download", () => {
    const r = render(mode('hidden_by_limit'));
    expect(r.files).toEqual([]);
    expect(r.blocks.at(-1)).toBe(
      "<p>📎 <em>(a file hidden by Slack's free-plan limit: it is not in the export)</em></p>",
    );
    expect(r.fileCounts?.fallback).toEqual({ 'hidden-by-limit': 1 });
  });

  it('external: a link to where the file lives, titled as in Slack', () => {
    const raw = mode('external');
    const f = raw.files![0]!;
    const r = render(raw);
    expect(r.files).toEqual([]);
    expect(r.blocks.at(-1)).toBe(
      `<p>📎 <a href="${String(f.url_private)}">${String(f.title)}</a> <em>(external file, left where it is)</em></p>`,
    );
  });

  it('snippet: its preview as <pre>, escaped, then the file itself; no token kept', () => {
    const raw = mode('snippet');
    const f = raw.files![0]!;
    const r = render(raw);
    expect(r.blocks.slice(-2)).toEqual([
      `<pre>${String(f.preview).replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</pre>`,
      `<attachment id="${r.files[0]!.attachmentId}"></attachment>`,
    ]);
    expect(r.files[0]).toMatchObject({
      sourceId: f.id,
      name: f.name,
      url: String(f.url_private_download).split('?')[0],
      uploadName: f.name,
    });
    expect(r.files[0]!.image).toBeUndefined();
    expect(JSON.stringify(r)).not.toContain('xoxe');
  });

  it('hosted image: a placeholder marked as an image, with a SharePoint-safe name in case it is uploaded', () => {
    const raw = mode('F0IMGE0001');
    const r = render(raw);
    expect(r.hostedContents).toEqual([]);
    expect(r.files[0]).toMatchObject({ image: true, uploadName: 'Screen Shot 2024-01-10 at 10.04.png' });
    expect(r.fileCounts).toEqual({ inline: 1, sharepoint: 0, fallback: {} });
  });

  it('a URL without a token: a notice unless a bot token is configured', () => {
    const raw = mode('F0NOTK0001');
    expect(render(raw).blocks.at(-1)).toContain(
      '<em>(not migrated: the export carries no file token; set SLACK_TOKEN to move files)</em>',
    );
    expect(render(raw, { ...options, canDownloadFiles: true }).files).toHaveLength(1);
  });

  it('over the size limit or empty: a notice with the size, before any download', () => {
    const raw = mode('F0IMGE0001');
    const big = render(raw, { ...options, maxFileBytes: 100_000 });
    expect(big.files).toEqual([]);
    expect(big.blocks.at(-1)).toContain('<em>(not migrated: 179 KB, over the 98 KB limit)</em>');
    const zero = { ...raw, files: [{ ...raw.files![0], size: 0 }] };
    expect(render(zero).blocks.at(-1)).toContain('<em>(empty file: 0 bytes in Slack)</em>');
  });

  it('canvas (quip): its title linked to Slack, nothing uploaded (zulip fixture)', () => {
    const raw = readJson<Raw>(
      join(ZULIP, 'exported_messages_fixtures', 'message_with_variety_files_and_rich_text.json'),
    );
    const canvas = raw.files![0]!;
    const r = render(raw);
    expect(r.blocks).toContain(
      `<p>📝 <a href="${String(canvas.permalink)}">Canvas: ${String(canvas.title)}</a></p>`,
    );
    expect(r.fileCounts?.fallback).toEqual({ canvas: 1 });
  });

  it('file_comment: links to the earlier upload of the same file instead of a second upload (2016 fixture)', () => {
    const day = readJson<Raw[]>(join(EXPORT_2016, 'traveling-sailor', '2016-03-27.json'));
    const comment = day.find((m) => m.subtype === 'file_comment')!;
    const share = day.find((m) => m.subtype === 'file_share')!;
    const r = render(comment);
    expect(r.files).toHaveLength(1);
    expect(r.files[0]).toMatchObject({ earlier: true, sourceId: (comment.file as { id: string }).id });
    expect((comment.file as { id: string }).id).toBe(
      share.files?.[0]?.id ?? (share.file as { id: string }).id,
    );
    expect(r.fileCounts?.fallback).toEqual({ 'earlier-upload': 1 });
  });
});

describe('file names in the channel folder', () => {
  it('keep both on a clash, numbered in the order files are first seen, the same on every run', () => {
    const names = (): string[] => {
      const namer = new FileNamer();
      return [
        namer.nameFor('F1', 'notes.txt'),
        namer.nameFor('F2', 'Notes.txt'),
        namer.nameFor('F1', 'notes.txt'),
        namer.nameFor('F3', 'notes.txt'),
        namer.nameFor('F4', 'a:b?.pdf'),
      ];
    };
    expect(names()).toEqual(['notes.txt', 'Notes (2).txt', 'notes.txt', 'notes (3).txt', 'a_b_.pdf']);
    expect(names()).toEqual(names());
  });

  it('are valid in SharePoint', () => {
    expect(sharePointName('  .hidden. ', 'F1')).toBe('hidden');
    expect(sharePointName('con.txt', 'F1')).toBe('_con.txt');
    expect(sharePointName('~$lock.docx', 'F1')).toBe('_$lock.docx');
    expect(sharePointName('???', 'F9')).toBe('___');
    expect(sharePointName('', 'F9')).toBe('F9');
    expect(sharePointName(`${'x'.repeat(300)}.pdf`, 'F1')).toMatch(/^x{116}\.pdf$/);
    expect(numberedName('archive', 2)).toBe('archive (2)');
  });
});
