import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { PlainloopConfig } from '@plainloop/config';
import { ConfigError } from '@plainloop/config';
import { TenantId } from '@plainloop/contracts';

/** Keys shorter than this are refused at start-up: they could be guessed. */
const minimumKeyLength = 16;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Which tenant each API key belongs to. Only SHA-256 hashes of the keys are kept, so a heap dump or a
 * log line of this object gives no key away, and a lookup compares hashes, not keys.
 */
export class ApiKeyring {
  readonly #tenantByHash: ReadonlyMap<string, string>;

  constructor(tenantByHash: ReadonlyMap<string, string>) {
    this.#tenantByHash = tenantByHash;
  }

  /** A keyring made in code (tests, an embedding application): key -> tenant. */
  static of(tenantByKey: Readonly<Record<string, string>>): ApiKeyring {
    return new ApiKeyring(
      new Map(Object.entries(tenantByKey).map(([key, tenant]) => [hashApiKey(key), tenant])),
    );
  }

  get size(): number {
    return this.#tenantByHash.size;
  }

  /** The tenant of a presented key, or undefined when it is nobody's. */
  tenantOf(key: string): string | undefined {
    return this.#tenantByHash.get(hashApiKey(key));
  }
}

function tenantOrFail(tenant: string, where: string): string {
  if (!TenantId.safeParse(tenant).success)
    throw new ConfigError(`${where}: "${tenant}" is not a tenant id (1-64 letters, digits, _ . or -)`);
  return tenant;
}

/**
 * Reads the API keys: `PLAINLOOP_API_KEYS` as `tenant:key` pairs, and `PLAINLOOP_API_KEYS_FILE` with one
 * `tenant:sha256-hex-of-the-key` per line (`#` comments and blank lines allowed), so the file holds no
 * key. Returns undefined when neither is set.
 */
export async function loadApiKeyring(config: PlainloopConfig): Promise<ApiKeyring | undefined> {
  const { keys, keysFile } = config.api;
  if (keys === undefined && keysFile === undefined) return undefined;
  const tenantByHash = new Map<string, string>();
  const add = (hash: string, tenant: string, where: string) => {
    if (tenantByHash.has(hash)) throw new ConfigError(`${where}: the same key is given twice`);
    tenantByHash.set(hash, tenant);
  };
  for (const pair of (keys ?? '').split(',').filter((each) => each.trim() !== '')) {
    const separator = pair.indexOf(':');
    const tenant = tenantOrFail(pair.slice(0, separator).trim(), 'PLAINLOOP_API_KEYS');
    const key = pair.slice(separator + 1).trim();
    if (separator < 0 || key.length < minimumKeyLength)
      throw new ConfigError(
        `PLAINLOOP_API_KEYS: each entry is tenant:key, with a key of at least ${minimumKeyLength} characters`,
      );
    add(hashApiKey(key), tenant, 'PLAINLOOP_API_KEYS');
  }
  if (keysFile !== undefined) {
    const text = await readFile(keysFile, 'utf8').catch(() => {
      throw new ConfigError(`PLAINLOOP_API_KEYS_FILE: cannot read ${keysFile}`);
    });
    text.split('\n').forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `PLAINLOOP_API_KEYS_FILE line ${index + 1}`;
      const [tenant = '', hash = ''] = line.split(':');
      if (!/^[0-9a-f]{64}$/.test(hash))
        throw new ConfigError(`${where}: expected tenant:<sha256 hex of the key>`);
      add(hash, tenantOrFail(tenant, where), where);
    });
  }
  return new ApiKeyring(tenantByHash);
}
