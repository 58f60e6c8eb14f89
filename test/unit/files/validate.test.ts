import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatReport, validateExport } from '../../../cli/validate';
import { filler, pngBytes, writeFilesExport, type ExportMessage } from '../../support/filesExport';

const MiB = 1024 * 1024;
const file = (
  id: string,
  name: string,
  mimetype: string,
  extra: Record<string, unknown> = {},
): ExportMessage => ({
  text: name,
  file: { id, name, mimetype, bytes: filler(id, 100), ...extra },
});

describe("validate: what becomes of each channel's files, and why", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'validate-files-'));
    writeFilesExport(path.join(root, 'export'), path.join(root, 'bytes'), [
      {
        text: 'a picture',
        file: { id: 'FP1', name: 'a.png', mimetype: 'image/png', bytes: pngBytes(4, 4, 1) },
      },
      file('FB1', 'big.png', 'image/png', { bytes: undefined, size: 5 * MiB }),
      file('FD1', 'doc.pdf', 'application/pdf'),
      {
        text: 'about it',
        file: { id: 'FD1', name: 'doc.pdf', mimetype: 'application/pdf', size: 100 },
        subtype: 'file_comment',
      },
      { text: '', file: { id: 'FT1', name: '', mimetype: '', mode: 'tombstone' } },
      { text: '', file: { id: 'FH1', name: '', mimetype: '', mode: 'hidden_by_limit' } },
      file('FX1', 'Sheet', 'application/vnd.google-apps.spreadsheet', {
        mode: 'external',
        externalUrl: 'https://docs.google.com/x',
      }),
      file('FZ1', 'zero.txt', 'text/plain', { bytes: undefined, size: 0 }),
      file('FL1', 'film.mp4', 'video/mp4', { bytes: undefined, size: 300 * MiB }),
    ]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('counts native files (inline, SharePoint) and fallbacks by reason, against the size limit given', async () => {
    const report = await validateExport(path.join(root, 'export'), { now: new Date('2026-01-01T00:00:00Z') });
    expect(report.channels[0]!.fileOutcomes).toEqual({
      inline: 1,
      sharepoint: 2,
      fallback: {
        'earlier-upload': 1,
        deleted: 1,
        'hidden-by-limit': 1,
        external: 1,
        empty: 1,
        'too-large': 1,
      },
    });
    expect(formatReport(report)).toContain(
      'files: 1 inline image(s) (if their bytes are images up to 4 MiB), 2 to SharePoint; 6 fall back: 1 comments on earlier uploads (linked), 1 deleted in Slack',
    );
    const roomy = await validateExport(path.join(root, 'export'), {
      now: new Date('2026-01-01T00:00:00Z'),
      maxFileMb: 400,
    });
    expect(roomy.channels[0]!.fileOutcomes.sharepoint).toBe(3);
    expect(roomy.channels[0]!.fileOutcomes.fallback['too-large']).toBeUndefined();
  });
});
