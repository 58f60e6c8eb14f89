import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/** The setting that holds the 32-byte, base64-encoded key protecting refresh tokens and signing consent links. */
export const ENCRYPTION_KEY_SETTING = 'CHAT_EXPORT_ENCRYPTION_KEY';

const ENVELOPE_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A secret could not be decrypted: wrong key, tampered envelope, or not an envelope at all. */
export class SecretDecryptionError extends Error {
  override readonly name = 'SecretDecryptionError';
}

/** Why a consent-link `state` was refused. */
export type StateFailure = 'malformed' | 'tampered' | 'expired' | 'replayed';

/** A consent-link `state` was refused; `reason` says which check failed. */
export class StateError extends Error {
  override readonly name = 'StateError';
  constructor(
    readonly reason: StateFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses the `CHAT_EXPORT_ENCRYPTION_KEY` setting: standard or url-safe base64 of exactly 32 random bytes.
 * Errors name the setting and how to make a key, never the value.
 */
export function parseEncryptionKey(value: string | undefined): Buffer {
  const hint = `generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;
  if (value === undefined || value.trim() === '') {
    throw new Error(`${ENCRYPTION_KEY_SETTING} is not set: it must be 32 random bytes in base64; ${hint}`);
  }
  const text = value.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    throw new Error(`${ENCRYPTION_KEY_SETTING} is not base64: it must be 32 random bytes in base64; ${hint}`);
  }
  const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) {
    throw new Error(
      `${ENCRYPTION_KEY_SETTING} decodes to ${key.length} bytes, not 32: it must be 32 random bytes in base64; ${hint}`,
    );
  }
  return key;
}

function keyBytes(key: Buffer | string): Buffer {
  if (typeof key === 'string') return parseEncryptionKey(key);
  if (key.length !== 32) {
    throw new Error(
      `${ENCRYPTION_KEY_SETTING} must be 32 bytes, got ${key.length}: load it with parseEncryptionKey`,
    );
  }
  return key;
}

/** A purpose-bound key derived from the master key (HKDF-SHA256), so one setting serves several uses safely. */
export function deriveKey(masterKey: Buffer | string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', keyBytes(masterKey), Buffer.alloc(0), `teams-import/${purpose}`, 32));
}

/**
 * Encrypts a secret with AES-256-GCM and a random 96-bit IV into `v1.<iv>.<tag>.<ciphertext>` (base64url).
 * `context` (for example the user id) is bound as associated data: decrypting needs the same context.
 */
export function encryptSecret(plaintext: string, key: Buffer | string, context = ''): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyBytes(key), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const parts = [iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'));
  return [ENVELOPE_VERSION, ...parts].join('.');
}

/** Decrypts an `encryptSecret` envelope; a tampered envelope, wrong key or wrong context throws SecretDecryptionError. */
export function decryptSecret(envelope: string, key: Buffer | string, context = ''): string {
  const parts = envelope.split('.');
  if (parts.length !== 4 || parts[0] !== ENVELOPE_VERSION) {
    throw new SecretDecryptionError(
      `Encrypted secret is not a ${ENVELOPE_VERSION} envelope (expected 'v1.<iv>.<tag>.<ciphertext>'): re-run the consent for this user`,
    );
  }
  const [iv, tag, ciphertext] = parts.slice(1).map((part) => Buffer.from(part, 'base64url'));
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new SecretDecryptionError(
      'Encrypted secret has a malformed IV or tag: the stored value was altered',
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyBytes(key), iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretDecryptionError(
      `Encrypted secret failed authentication: it was altered, belongs to another record, or ${ENCRYPTION_KEY_SETTING} changed since it was written; re-run the consent for this user`,
    );
  }
}

/** What a consent link's `state` carries: whom the link is for, a single-use nonce, and expiry (epoch ms). */
export interface StateClaims {
  userId: string;
  nonce: string;
  exp: number;
}

/** Records consumed nonces; `consume` is atomic and returns false when the nonce was already used. */
export interface NonceStore {
  consume(nonce: string, expiresAtMs: number): Promise<boolean>;
  /** Whether the nonce was consumed already (its link was used). */
  wasConsumed(nonce: string): Promise<boolean>;
}

/** A NonceStore in memory (tests, single-process hosts); expired nonces are forgotten. */
export class InMemoryNonceStore implements NonceStore {
  private readonly used = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async consume(nonce: string, expiresAtMs: number): Promise<boolean> {
    const now = this.now();
    for (const [key, exp] of this.used) if (exp < now) this.used.delete(key);
    if (this.used.has(nonce)) return false;
    this.used.set(nonce, expiresAtMs);
    return true;
  }

  async wasConsumed(nonce: string): Promise<boolean> {
    return this.used.has(nonce);
  }
}

/** A fresh random nonce for a consent link (128 bits, base64url). */
export function createNonce(): string {
  return randomBytes(16).toString('base64url');
}

function stateSignature(payload: string, key: Buffer): Buffer {
  return createHmac('sha256', key).update(payload, 'utf8').digest();
}

/** Signs state claims as `<base64url JSON>.<base64url HMAC-SHA256>`; the key should be deriveKey(master, 'state'). */
export function signState(claims: StateClaims, key: Buffer): string {
  if (key.length < 32) throw new Error('The state signing key must be at least 32 bytes: use deriveKey');
  const payload = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  return `${payload}.${stateSignature(payload, key).toString('base64url')}`;
}

/** Issues a signed state for a user's consent link with a fresh nonce, valid for `ttlMs` (default 7 days). */
export function issueState(
  userId: string,
  key: Buffer,
  options: { ttlMs?: number; now?: () => number } = {},
): { state: string; claims: StateClaims } {
  const now = options.now ?? Date.now;
  const claims: StateClaims = {
    userId,
    nonce: createNonce(),
    exp: now() + (options.ttlMs ?? 7 * 24 * 3600 * 1000),
  };
  return { state: signState(claims, key), claims };
}

/** Whether a string is base64url exactly as encoding its bytes gives it (no padding, no stray low bits). */
function isCanonicalBase64url(text: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;
}

/**
 * Verifies a state's signature and expiry; throws StateError('malformed'|'tampered'|'expired'). Both parts
 * must be canonical base64url, and the signature is compared as text with its canonical encoding (constant
 * time), so no other spelling of the same bytes verifies.
 */
export function verifyState(state: string, key: Buffer, now: () => number = Date.now): StateClaims {
  const parts = state.split('.');
  if (parts.length !== 2 || !isCanonicalBase64url(parts[0])) {
    throw new StateError('malformed', 'The consent link is malformed: ask the administrator for a new link');
  }
  const expected = Buffer.from(stateSignature(parts[0], key).toString('base64url'), 'ascii');
  const given = Buffer.from(parts[1], 'ascii');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new StateError('tampered', 'The consent link was altered: ask the administrator for a new link');
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new StateError('malformed', 'The consent link is malformed: ask the administrator for a new link');
  }
  const { userId, nonce, exp } = (claims ?? {}) as Partial<StateClaims>;
  if (typeof userId !== 'string' || typeof nonce !== 'string' || typeof exp !== 'number') {
    throw new StateError('malformed', 'The consent link is malformed: ask the administrator for a new link');
  }
  if (now() >= exp) {
    throw new StateError('expired', 'The consent link has expired: ask the administrator for a new link');
  }
  return { userId, nonce, exp };
}

/** Verifies a state and consumes its nonce: a second use throws StateError('replayed'). */
export async function consumeState(
  state: string,
  key: Buffer,
  nonces: NonceStore,
  now: () => number = Date.now,
): Promise<StateClaims> {
  const claims = verifyState(state, key, now);
  if (!(await nonces.consume(claims.nonce, claims.exp))) {
    throw new StateError(
      'replayed',
      'The consent link was already used: ask the administrator for a new link',
    );
  }
  return claims;
}

/** A PKCE pair: a 43-character base64url verifier and its S256 challenge. */
export interface PkcePair {
  verifier: string;
  challenge: string;
  method: 'S256';
}

/** The S256 challenge of a PKCE verifier: base64url(sha256(verifier)). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Creates a PKCE verifier from 32 random bytes (43 characters, within RFC 7636's 43..128) and its challenge. */
export function createPkcePair(): PkcePair {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier), method: 'S256' };
}
