import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExportReadError, openExportArchive } from '../../../core/sources/archive';
import { planExport } from '../../../core/transform/plan';
import { ZipWriter, zipFolder } from '../../../bench/zipWriter';
import { EXPORT_2016, tempDir } from '../../support/fixtures';
import { msg, writeExport } from '../../support/slackExport';

const NOW = Date.parse('2026-06-01T00:00:00Z');

describe('bad input: clear errors or named problems, never a crash or a silent drop', () => {
  it('a file that is not a ZIP', async () => {
    const path = join(tempDir(), 'notes.zip');
    writeFileSync(path, 'this is not a zip file at all');
    await expect(planExport(path, { now: NOW })).rejects.toThrow(/notes\.zip' is not a readable ZIP file/);
  });

  it('a truncated ZIP names the file', async () => {
    const full = join(tempDir(), 'full.zip');
    zipFolder(EXPORT_2016, full);
    const cut = join(tempDir(), 'cut.zip');
    const bytes = readFileSync(full);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(planExport(cut, { now: NOW })).rejects.toThrow(ExportReadError);
    await expect(planExport(cut, { now: NOW })).rejects.toThrow(/cut\.zip.*truncated/);
  });

  it('a corrupt entry is an error problem naming the day file', async () => {
    const path = join(tempDir(), 'corrupt.zip');
    const zip = new ZipWriter(path);
    zip.add('users.json', '[]');
    zip.add('channels.json', JSON.stringify([{ id: 'C1', name: 'a', created: 1 }]));
    zip.add('a/2020-01-01.json', JSON.stringify([msg('1577836800.000100', 'x'.repeat(5000))]));
    zip.close();
    const bytes = readFileSync(path);
    const at = bytes.indexOf(Buffer.from('a/2020-01-01.json')) + 'a/2020-01-01.json'.length;
    bytes.fill(0xff, at + 2, at + 40);
    writeFileSync(path, bytes);
    const m = await planExport(path, { now: NOW });
    const p = m.problems.find((x) => x.code === 'day-file-unreadable')!;
    expect(p.severity).toBe('error');
    expect(p.message).toContain("'a/2020-01-01.json' in");
    expect(m.importable).toBe(false);
  });

  it("entries with '..' or absolute paths are skipped with a named problem", async () => {
    const path = join(tempDir(), 'evil.zip');
    const zip = new ZipWriter(path);
    zip.add('users.json', '[]');
    zip.add('channels.json', '[]');
    zip.add('../../etc/evil.json', '[]');
    zip.add('/abs/evil.json', '[]');
    zip.close();
    const archive = await openExportArchive(path);
    expect(archive.paths()).toEqual(['channels.json', 'users.json']);
    expect(archive.problems.map((p) => p.code)).toEqual(['zip-unsafe-path', 'zip-unsafe-path']);
    expect(archive.problems[0].message).toContain("'../../etc/evil.json' contains a '..' segment");
    await archive.close();
  });

  it('refuses a ZIP that expands beyond the limit (ZIP bomb)', async () => {
    const path = join(tempDir(), 'bomb.zip');
    const zip = new ZipWriter(path);
    zip.add('channels.json', '[]');
    zip.add('big.bin', Buffer.alloc(8 * 1024 * 1024));
    zip.close();
    await expect(
      planExport(path, { now: NOW, limits: { maxExpandedBytes: 1024 * 1024, maxEntryBytes: 1024 * 1024 } }),
    ).rejects.toThrow(/ZIP bomb limit/);
  });

  it('an export without channels.json', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'users.json'), '[]');
    await expect(planExport(dir, { now: NOW })).rejects.toThrow(/has no channels\.json/);
  });

  it('a day file that is not an array, and one with broken JSON (file, line, column)', async () => {
    const dir = writeExport({
      days: {
        general: {
          '2020-01-01': { not: 'an array' },
          '2020-01-02': '[\n  {"type": "message", "ts": "1577923200.000100", "text": "hi",}\n]',
          '2020-01-03': [msg('1578009600.000100', 'fine')],
        },
      },
    });
    const m = await planExport(dir, { now: NOW });
    expect(m.importable).toBe(false);
    const notArray = m.problems.find((p) => p.code === 'day-file-not-array')!;
    expect(notArray.message).toContain("'general/2020-01-01.json' is not a JSON array");
    const broken = m.problems.find((p) => p.code === 'day-file-json')!;
    expect(broken.message).toContain("'general/2020-01-02.json' is not valid JSON at line 2, column 63");
    expect(m.channels[0].posts).toBe(1);
  });

  it('unknown subtypes are imported with a note, missing users and duplicate ts are reported', async () => {
    const dir = writeExport({
      days: {
        general: {
          '2020-01-01': [
            msg('1577836800.000100', 'first'),
            msg('1577836800.000100', 'first again'),
            msg('1577836801.000100', 'strange', { subtype: 'brand_new_subtype' }),
            msg('1577836802.000100', 'who?', { user: 'U404', user_profile: { real_name: 'Ghost' } }),
            'not an object',
            { type: 'message', text: 'no ts' },
          ],
        },
      },
    });
    const m = await planExport(dir, { now: NOW });
    const c = m.channels[0];
    expect(c.sourceMessages).toBe(6);
    expect(c.skipped).toEqual({ 'duplicate-ts': 1, unreadable: 2 });
    expect(c.posts).toBe(3);
    const codes = m.problems.map((p) => p.code);
    expect(codes).toEqual(
      expect.arrayContaining(['duplicate-ts', 'unknown-subtype', 'user-missing', 'message-unreadable']),
    );
    expect(m.users.find((u) => u.sourceId === 'U404')).toMatchObject({
      displayName: 'Ghost',
      resolution: 'fallback',
    });
    expect(m.importable).toBe(true);
  });
});
