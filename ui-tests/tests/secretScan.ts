/**
 * Looks for token material where it must never be: every process environment on the machine and the stack's log.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A text to search, and where it came from. */
export interface IHaystack {
  /** e.g. `/proc/1234/environ (node)` or `test-results/stack.log`. */
  readonly where: string;
  /** The text. */
  readonly text: string;
}

/**
 * Reads the environment of every process this user may read (`/proc/<pid>/environ`); processes that end while
 * being read, or belong to someone else, are skipped.
 *
 * @returns one haystack per process, variables separated by newlines.
 */
export function processEnvironments(): IHaystack[] {
  const haystacks: IHaystack[] = [];
  for (const pid of readdirSync('/proc').filter(name => /^\d+$/.test(name))) {
    try {
      const text = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').join('\n');
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      haystacks.push({ where: `/proc/${pid}/environ (${comm})`, text });
    } catch {
      // Gone, or not ours to read.
    }
  }
  return haystacks;
}

/**
 * Finds every haystack that contains a needle.
 *
 * @param haystacks - where to look.
 * @param needles - what must not be there, by a name that is safe to print.
 * @returns `"<where>: <name>"` for every hit; empty when clean.
 */
export function findLeaks(haystacks: IHaystack[], needles: Record<string, string>): string[] {
  const hits: string[] = [];
  for (const { where, text } of haystacks) {
    for (const [name, value] of Object.entries(needles)) {
      if (value && text.includes(value)) {
        hits.push(`${where}: ${name}`);
      }
    }
  }
  return hits;
}

/**
 * Finds JWTs in a text that were issued by an issuer (access and ID tokens of the demo IdP).
 *
 * @param text - e.g. a log.
 * @param issuer - the IdP's issuer.
 * @returns how many such JWTs the text holds (never the tokens themselves).
 */
export function countJwtsIssuedBy(text: string, issuer: string): number {
  let count = 0;
  for (const [, payload] of text.matchAll(
    /eyJ[A-Za-z0-9_-]+\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+/g
  )) {
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      if (claims?.iss === issuer) {
        count++;
      }
    } catch {
      // Not a JWT after all.
    }
  }
  return count;
}
