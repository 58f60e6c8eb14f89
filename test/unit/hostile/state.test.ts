import { randomBytes } from 'node:crypto';
import { deriveKey, issueState, verifyState } from '../../../core/chatexport/crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const now = () => Date.parse('2026-01-01T00:00:00Z');

/** The same bytes spelled differently: the last character of base64url text with its unused low bit flipped. */
function respelled(text: string): string {
  const last = text[text.length - 1];
  return text.slice(0, -1) + ALPHABET[ALPHABET.indexOf(last) ^ 1];
}

describe('consent-link state signature', () => {
  const key = deriveKey(randomBytes(32), 'state');
  const { state } = issueState('user-1', key, { now });
  const [payload, signature] = state.split('.');

  it('refuses a signature whose last character was changed to another spelling of the same bytes', () => {
    const forged = respelled(signature);
    expect(forged).not.toBe(signature);
    expect(Buffer.from(forged, 'base64url').equals(Buffer.from(signature, 'base64url'))).toBe(true);
    expect(() => verifyState(`${payload}.${forged}`, key, now)).toThrow(
      expect.objectContaining({ reason: 'tampered' }),
    );
    expect(verifyState(state, key, now).userId).toBe('user-1');
  });

  it('refuses a payload that is not canonical base64url', () => {
    for (const bad of [`${payload}=`, `${payload}+`, `${payload}.`])
      expect(() => verifyState(`${bad}.${signature}`, key, now)).toThrow(
        expect.objectContaining({ reason: 'malformed' }),
      );
  });
});
