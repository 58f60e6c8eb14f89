import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZipWriter } from '../../../bench/zipWriter';
import { ExportReadError, openExportArchive } from '../../../core/sources/archive';
import { tempDir } from '../../support/fixtures';

/** Bytes that deflate well but not trivially: a repeated line with a counter. */
function lines(count: number): Buffer {
  return Buffer.from(
    Array.from({ length: count }, (_, i) => `{"ts":"${1_600_000_000 + i}.000100","text":"line ${i}"}`).join(
      '\n',
    ),
  );
}

describe('ZIP entries are read through streams', () => {
  it('gives back every byte of stored and deflated entries', async () => {
    const path = join(tempDir(), 'both.zip');
    const deflated = lines(50_000);
    const stored = lines(2_000);
    const zip = new ZipWriter(path);
    zip.add('deflated.json', deflated);
    zip.add('stored.json', stored, true);
    zip.add('empty.json', Buffer.alloc(0));
    zip.close();
    const archive = await openExportArchive(path);
    try {
      expect((await archive.read('deflated.json')).equals(deflated)).toBe(true);
      expect((await archive.read('stored.json')).equals(stored)).toBe(true);
      expect((await archive.read('empty.json')).length).toBe(0);
    } finally {
      await archive.close();
    }
  });

  it('lets the event loop run other work while a large entry is inflated', async () => {
    const path = join(tempDir(), 'large.zip');
    const zip = new ZipWriter(path);
    zip.add('big.json', lines(400_000));
    zip.close();
    const archive = await openExportArchive(path);
    let turns = 0;
    let reading = true;
    const spin = (): void => {
      turns++;
      if (reading) setImmediate(spin);
    };
    try {
      setImmediate(spin);
      const bytes = archive.read('big.json').finally(() => (reading = false));
      expect((await bytes).length).toBe(archive.size('big.json'));
    } finally {
      await archive.close();
    }
    // A read done in one synchronous inflate lets the loop turn at most once before it resolves.
    expect(turns).toBeGreaterThan(10);
  });

  it('refuses an entry whose data inflates to more bytes than its directory says, naming it', async () => {
    const path = join(tempDir(), 'lying.zip');
    const zip = new ZipWriter(path);
    zip.add('users.json', lines(1_000));
    zip.close();
    const bytes = readFileSync(path);
    const central = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const declared = bytes.readUInt32LE(central + 24);
    bytes.writeUInt32LE(Math.floor(declared / 2), central + 24);
    const local = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    bytes.writeUInt32LE(Math.floor(declared / 2), local + 22);
    writeFileSync(path, bytes);
    const archive = await openExportArchive(path);
    try {
      const read = archive.read('users.json');
      await expect(read).rejects.toThrow(ExportReadError);
      await expect(read).rejects.toThrow(/'users\.json' in '.*lying\.zip' cannot be read/);
    } finally {
      await archive.close();
    }
  });
});
