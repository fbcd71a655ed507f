/**
 * The file store's on-disk format: AES-256-GCM with a fresh random 12-byte IV on every write.
 *
 * ```
 * offset  size  what
 * 0       8     magic "JTBSTORE"
 * 8       1     format version (1)
 * 9       12    IV
 * 21      16    GCM authentication tag
 * 37      …     ciphertext of the UTF-8 JSON document
 * ```
 *
 * The magic and version are authenticated as additional data, so a changed header fails like a
 * changed ciphertext. The key is 32 random bytes, kept in its own file as 64 hex characters.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from('JTBSTORE', 'ascii');
/** The format version this code writes. */
export const FORMAT_VERSION = 1;
const HEADER = MAGIC.length + 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes of a key. */
export const KEY_BYTES = 32;

/** Why a sealed file could not be opened; never carries plaintext. */
export class UnsealError extends Error {
  /** @param reason - `not_a_store`, `unknown_version` or `authentication_failed` */
  constructor(
    readonly reason: 'not_a_store' | 'unknown_version' | 'authentication_failed',
    message: string
  ) {
    super(message);
    this.name = 'UnsealError';
  }
}

/**
 * Reads a key file's text: one line of 64 hex characters (32 bytes).
 *
 * @param text - the file's content
 * @returns the key, or undefined when the text is not a key
 */
export function parseKey(text: string): Buffer | undefined {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  return Buffer.from(hex, 'hex');
}

/**
 * A new random key in the key file format.
 *
 * @returns 64 hex characters and a newline
 */
export function newKeyText(): string {
  return randomBytes(KEY_BYTES).toString('hex') + '\n';
}

/**
 * Encrypts a document.
 *
 * @param key - 32 bytes
 * @param plaintext - the document
 * @returns the sealed bytes
 * @example
 * ```ts
 * const sealed = seal(randomBytes(32), Buffer.from('{}'));
 * ```
 */
export function seal(key: Buffer, plaintext: Buffer): Buffer {
  const header = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION])]);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
}

/**
 * Decrypts and authenticates a sealed document.
 *
 * @param key - 32 bytes
 * @param sealed - what {@link seal} wrote
 * @returns the document
 * @throws {@link UnsealError} when it is not a store file, of a newer format, or fails authentication
 *   (changed bytes or another key)
 */
export function unseal(key: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < HEADER + IV_BYTES + TAG_BYTES || !sealed.subarray(0, 8).equals(MAGIC)) {
    throw new UnsealError('not_a_store', 'is not a token store file (bad header)');
  }
  const version = sealed[MAGIC.length];
  if (version !== FORMAT_VERSION) {
    throw new UnsealError(
      'unknown_version',
      `has format version ${version}; this broker reads version ${FORMAT_VERSION}`
    );
  }
  const iv = sealed.subarray(HEADER, HEADER + IV_BYTES);
  const tag = sealed.subarray(HEADER + IV_BYTES, HEADER + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(sealed.subarray(0, HEADER));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(HEADER + IV_BYTES + TAG_BYTES)),
      decipher.final()
    ]);
  } catch {
    throw new UnsealError(
      'authentication_failed',
      'failed authentication: it was changed outside the broker, or the key file is not the one it was written with'
    );
  }
}
