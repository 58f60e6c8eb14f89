import { TableClient, type NamedKeyCredential } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';

/** Where the ledger's tables live: a connection string, or an account endpoint with a credential (managed identity). */
export type LedgerConnection =
  | string
  | { endpoint: string; credential: TokenCredential | NamedKeyCredential; allowInsecureConnection?: boolean };

/** Longest PartitionKey / RowKey Table Storage accepts, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 1024;

const ESCAPE = '!';
const SPECIAL = new Set(['/', '\\', '#', '?', ESCAPE, '|', '%', "'"]);
const isControl = (code: number): boolean => code <= 0x1f || (code >= 0x7f && code <= 0x9f);

/**
 * Makes any string a valid Table key, reversibly: `/ \ # ? !`, `|` (the ledger's separator), `%`, `'`
 * and control characters become `!XX` (hex); everything else, Unicode included, stays as it is.
 */
export function encodeKey(value: string): string {
  let encoded = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    encoded +=
      SPECIAL.has(ch) || isControl(code) ? ESCAPE + code.toString(16).toUpperCase().padStart(2, '0') : ch;
  }
  if (encoded.length > MAX_KEY_LENGTH)
    throw new RangeError(
      `Table key too long (${encoded.length} > ${MAX_KEY_LENGTH} once escaped): '${value.slice(0, 60)}...'; use a shorter source key.`,
    );
  return encoded;
}

/** The inverse of encodeKey. */
export function decodeKey(key: string): string {
  return key.replace(/!([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A key made of several parts (`run|channel`), each encoded so the `|` separator stays unambiguous. */
export function compositeKey(...parts: string[]): string {
  const key = parts.map(encodeKey).join('|');
  if (key.length > MAX_KEY_LENGTH)
    throw new RangeError(
      `Table key too long (${key.length} > ${MAX_KEY_LENGTH}) for '${parts.join('|').slice(0, 60)}...'.`,
    );
  return key;
}

const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,40}$/;

/** The full table name for a prefix and a logical name; throws naming the rule when the prefix breaks it. */
export function tableName(prefix: string, name: string): string {
  if (!TABLE_PREFIX.test(prefix))
    throw new RangeError(
      `Ledger table prefix '${prefix}' is invalid: Table names start with a letter and hold only letters and digits (at most 41 for the prefix).`,
    );
  return `${prefix}${name}`;
}

/** A TableClient for one table of a connection; plain http is allowed for loopback hosts and Azurite's account only. */
export function tableClient(connection: LedgerConnection, name: string): TableClient {
  if (typeof connection === 'string') {
    return TableClient.fromConnectionString(connection, name, {
      allowInsecureConnection: isLocalDevelopment(connection),
    });
  }
  const options = { allowInsecureConnection: connection.allowInsecureConnection ?? false };
  const credential = connection.credential;
  return 'getToken' in credential
    ? new TableClient(connection.endpoint, name, credential, options)
    : new TableClient(connection.endpoint, name, credential, options);
}

function isLocalDevelopment(connectionString: string): boolean {
  if (/UseDevelopmentStorage=true/i.test(connectionString)) return true;
  const endpoint = /TableEndpoint=(http:\/\/[^;]+)/i.exec(connectionString)?.[1];
  if (!endpoint) return false;
  const host = new URL(endpoint).hostname;
  return (
    host === 'localhost' ||
    host === '[::1]' ||
    /^127\./.test(host) ||
    /AccountName=devstoreaccount1/.test(connectionString)
  );
}

/** The HTTP status of a Table Storage error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err
    ? (err as { statusCode?: number }).statusCode
    : undefined;
}
