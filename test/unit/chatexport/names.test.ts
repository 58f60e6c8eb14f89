import { createHash } from 'node:crypto';
import {
  assignFileName,
  chatFileName,
  chatIdHash,
  MAX_STEM_LENGTH,
  sanitizeFileStem,
} from '../../../core/chatexport/names';

const hash8 = (id: string) => createHash('sha256').update(id).digest('hex').slice(0, 8);

describe('chat file names', () => {
  it('is the sanitized title plus 8 hex of sha256(chat id)', () => {
    const id = '19:561082c0f3f847a58069deb8eb300807@thread.v2';
    expect(chatIdHash(id)).toBe(hash8(id));
    expect(chatFileName('Project Phoenix', id)).toBe(`Project Phoenix-${hash8(id)}.html`);
  });

  it('replaces every character OneDrive refuses', () => {
    const stem = sanitizeFileStem('a"b*c:d<e>f?g/h\\i|j#k%l\u0001m');
    expect(stem).toBe('a_b_c_d_e_f_g_h_i_j_k_l m');
    expect([...stem].some((c) => '"*:<>?/\\|#%'.includes(c) || c.charCodeAt(0) < 32)).toBe(false);
  });

  it('trims leading and trailing spaces and dots and collapses whitespace', () => {
    expect(sanitizeFileStem('  ..Weekly   sync..  ')).toBe('Weekly sync');
    expect(sanitizeFileStem(' . . ')).toBe('Chat');
    expect(sanitizeFileStem('')).toBe('Chat');
  });

  it('never yields a reserved device name, a ~$ prefix or _vti_', () => {
    for (const reserved of ['CON', 'prn', 'Aux', 'NUL', 'COM1', 'lpt9', 'desktop.ini']) {
      expect(sanitizeFileStem(reserved)).toBe(`_${reserved}`);
    }
    expect(sanitizeFileStem('~$draft')).toBe('~_draft');
    expect(sanitizeFileStem('a_vti_b')).not.toContain('_vti_');
    expect(sanitizeFileStem('Console')).toBe('Console');
  });

  it('caps the title part without splitting a surrogate pair', () => {
    const stem = sanitizeFileStem('😀'.repeat(200));
    expect(Array.from(stem)).toHaveLength(MAX_STEM_LENGTH);
    expect(stem).toBe('😀'.repeat(MAX_STEM_LENGTH));
    expect(chatFileName('x'.repeat(500), 'id').length).toBeLessThanOrEqual(MAX_STEM_LENGTH + 14);
  });

  it('gives two chats with the same title different names, stable across runs', () => {
    const a = chatFileName('Alice Smith', '19:aaa_bbb@unq.gbl.spaces');
    const b = chatFileName('Alice Smith', '19:aaa_ccc@unq.gbl.spaces');
    expect(a).not.toBe(b);
    expect(chatFileName('Alice Smith', '19:aaa_bbb@unq.gbl.spaces')).toBe(a);
  });

  it('lengthens the hash when the short name is already taken (case-insensitively)', () => {
    const first = assignFileName('Team', 'chat-1', []);
    const second = assignFileName('Team', 'chat-1', [first.toUpperCase()]);
    expect(second).not.toBe(first);
    expect(second).toBe(`Team-${chatIdHash('chat-1', 12)}.html`);
    expect(assignFileName('Team', 'chat-1', ['other.html'])).toBe(first);
  });
});
