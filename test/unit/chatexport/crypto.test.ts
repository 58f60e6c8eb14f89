import { createHash, randomBytes } from 'node:crypto';
import {
  consumeState,
  createPkcePair,
  decryptSecret,
  deriveKey,
  encryptSecret,
  InMemoryNonceStore,
  issueState,
  parseEncryptionKey,
  pkceChallenge,
  SecretDecryptionError,
  signState,
  StateError,
  verifyState,
} from '../../../core/chatexport/crypto';

const setting = randomBytes(32).toString('base64');
const key = parseEncryptionKey(setting);
const refreshToken = '0.AXoA-refresh-token-secret-value';

function flip(envelope: string, part: number): string {
  const parts = envelope.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[0] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('secret envelopes (AES-256-GCM)', () => {
  it('round-trips and never contains the plaintext', () => {
    const envelope = encryptSecret(refreshToken, key, 'user-1');
    expect(envelope).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(envelope).not.toContain(refreshToken);
    expect(decryptSecret(envelope, key, 'user-1')).toBe(refreshToken);
    expect(decryptSecret(encryptSecret('x', setting), setting)).toBe('x');
  });

  it('uses a fresh IV each time', () => {
    expect(encryptSecret(refreshToken, key)).not.toBe(encryptSecret(refreshToken, key));
  });

  it.each([
    ['IV', 1],
    ['tag', 2],
    ['ciphertext', 3],
  ])('refuses a tampered %s', (_name, part) => {
    const envelope = encryptSecret(refreshToken, key);
    expect(() => decryptSecret(flip(envelope, part), key)).toThrow(SecretDecryptionError);
  });

  it('refuses a wrong key, another record context, and non-envelopes, naming no secret', () => {
    const envelope = encryptSecret(refreshToken, key, 'user-1');
    const other = randomBytes(32);
    expect(() => decryptSecret(envelope, other, 'user-1')).toThrow(/CHAT_EXPORT_ENCRYPTION_KEY/);
    expect(() => decryptSecret(envelope, key, 'user-2')).toThrow(SecretDecryptionError);
    expect(() => decryptSecret('v2.a.b.c', key)).toThrow(/not a v1 envelope/);
    expect(() => decryptSecret(refreshToken, key)).toThrow(SecretDecryptionError);
    try {
      decryptSecret(envelope, other, 'user-1');
    } catch (error) {
      expect((error as Error).message).not.toContain(refreshToken);
      expect((error as Error).message).not.toContain(other.toString('base64'));
    }
  });

  it.each([
    ['missing', undefined],
    ['empty', '  '],
    ['not base64', 'not a key!'],
    ['16 bytes', randomBytes(16).toString('base64')],
    ['33 bytes', randomBytes(33).toString('base64')],
  ])('rejects a %s key setting, naming CHAT_EXPORT_ENCRYPTION_KEY but not the value', (_case, value) => {
    expect(() => parseEncryptionKey(value)).toThrow(/CHAT_EXPORT_ENCRYPTION_KEY/);
    try {
      parseEncryptionKey(value);
    } catch (error) {
      if (value && value.trim()) expect((error as Error).message).not.toContain(value);
    }
  });

  it('accepts url-safe base64 keys and derives distinct purpose keys', () => {
    expect(parseEncryptionKey(key.toString('base64url')).equals(key)).toBe(true);
    expect(deriveKey(key, 'state').equals(deriveKey(key, 'state'))).toBe(true);
    expect(deriveKey(key, 'state').equals(deriveKey(key, 'other'))).toBe(false);
    expect(deriveKey(key, 'state').equals(key)).toBe(false);
  });
});

describe('consent link state', () => {
  const stateKey = deriveKey(key, 'state');
  let now = Date.UTC(2025, 0, 1);
  const clock = () => now;

  beforeEach(() => {
    now = Date.UTC(2025, 0, 1);
  });

  it('verifies a state it signed', () => {
    const { state, claims } = issueState('user-1', stateKey, { ttlMs: 60_000, now: clock });
    expect(claims).toEqual({
      userId: 'user-1',
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      exp: now + 60_000,
    });
    expect(verifyState(state, stateKey, clock)).toEqual(claims);
  });

  it('refuses a state whose payload or signature was altered', () => {
    const state = signState({ userId: 'user-1', nonce: 'n', exp: now + 1000 }, stateKey);
    const [, signature] = state.split('.');
    const forged = Buffer.from(JSON.stringify({ userId: 'admin', nonce: 'n', exp: now + 1000 })).toString(
      'base64url',
    );
    const expectReason = (value: string, reason: string) => {
      try {
        verifyState(value, stateKey, clock);
        throw new Error('accepted');
      } catch (error) {
        expect(error).toBeInstanceOf(StateError);
        expect((error as StateError).reason).toBe(reason);
      }
    };
    expectReason(`${forged}.${signature}`, 'tampered');
    expectReason(`${state.split('.')[0]}.${Buffer.alloc(32).toString('base64url')}`, 'tampered');
    expectReason(
      signState({ userId: 'user-1', nonce: 'n', exp: now + 1000 }, deriveKey(key, 'other')),
      'tampered',
    );
    expectReason('garbage', 'malformed');
    expectReason(`${state}.extra`, 'malformed');
  });

  it('refuses an expired state (injected clock)', () => {
    const { state } = issueState('user-1', stateKey, { ttlMs: 60_000, now: clock });
    now += 59_999;
    expect(verifyState(state, stateKey, clock).userId).toBe('user-1');
    now += 1;
    expect(() => verifyState(state, stateKey, clock)).toThrow(expect.objectContaining({ reason: 'expired' }));
  });

  it('accepts a state once: a replay is refused through the nonce store', async () => {
    const nonces = new InMemoryNonceStore(clock);
    const { state } = issueState('user-1', stateKey, { ttlMs: 60_000, now: clock });
    await expect(consumeState(state, stateKey, nonces, clock)).resolves.toMatchObject({ userId: 'user-1' });
    await expect(consumeState(state, stateKey, nonces, clock)).rejects.toMatchObject({ reason: 'replayed' });
    const second = issueState('user-1', stateKey, { ttlMs: 60_000, now: clock });
    await expect(consumeState(second.state, stateKey, nonces, clock)).resolves.toMatchObject({
      userId: 'user-1',
    });
  });
});

describe('PKCE', () => {
  it('creates a 43..128 character verifier whose challenge is base64url(sha256(verifier))', () => {
    const pair = createPkcePair();
    expect(pair.verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(pair.challenge).toBe(createHash('sha256').update(pair.verifier).digest('base64url'));
    expect(pair.method).toBe('S256');
    expect(createPkcePair().verifier).not.toBe(pair.verifier);
  });

  it('matches the RFC 7636 appendix B example', () => {
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });
});
