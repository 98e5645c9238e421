import { AgentManifest } from '@plainloop/contracts';
import type { KeySchema, RedisConnection } from '@plainloop/redis';
import { Ajv, type ValidateFunction } from 'ajv';

export type InputCheck =
  | { ok: true }
  | { ok: false; code: 'unknown_agent' | 'invalid_input'; detail: string; errors?: string[] };

const refreshAfterMs = 2_000;

/** A manifest that is not JSON is skipped like one that does not fit the schema. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The agents workers have published, read from Redis and kept for a moment. The API checks a run's
 * agent and input against them before anything is queued, so bad input is a 422 now rather than a
 * failed run later.
 */
export class AgentCatalog {
  readonly #redis: RedisConnection;
  readonly #keys: KeySchema;
  readonly #ajv = new Ajv({ allErrors: true, strict: false });
  readonly #validators = new Map<string, ValidateFunction>();
  #manifests = new Map<string, AgentManifest>();
  #readAt = 0;

  constructor(redis: RedisConnection, keys: KeySchema) {
    this.#redis = redis;
    this.#keys = keys;
  }

  async #refresh(now: number) {
    if (now - this.#readAt < refreshAfterMs) return;
    const stored = await this.#redis.hgetall(this.#keys.agents);
    const manifests = new Map<string, AgentManifest>();
    for (const [name, json] of Object.entries(stored)) {
      const parsed = AgentManifest.safeParse(parseJson(json));
      if (parsed.success) manifests.set(name, parsed.data);
    }
    this.#manifests = manifests;
    this.#readAt = now;
    const current = new Set(
      [...manifests.values()].map((manifest) => `${manifest.name}@${manifest.publishedAt}`),
    );
    for (const key of this.#validators.keys()) if (!current.has(key)) this.#validators.delete(key);
  }

  async list(now = Date.now()): Promise<AgentManifest[]> {
    await this.#refresh(now);
    return [...this.#manifests.values()];
  }

  async checkInput(agent: string, input: unknown, now = Date.now()): Promise<InputCheck> {
    await this.#refresh(now);
    const manifest = this.#manifests.get(agent);
    if (!manifest) {
      const known = [...this.#manifests.keys()].sort().join(', ') || 'none yet: is a worker running?';
      return {
        ok: false,
        code: 'unknown_agent',
        detail: `no worker runs an agent named ${agent} (known: ${known})`,
      };
    }
    const cacheKey = `${manifest.name}@${manifest.publishedAt}`;
    let validate = this.#validators.get(cacheKey);
    if (!validate) {
      validate = this.#ajv.compile(manifest.inputSchema);
      this.#validators.set(cacheKey, validate);
    }
    if (validate(input)) return { ok: true };
    const errors = (validate.errors ?? [])
      .slice(0, 10)
      .map((error) => `input${error.instancePath}: ${error.message}`);
    return { ok: false, code: 'invalid_input', detail: `the input does not fit agent ${agent}`, errors };
  }
}
