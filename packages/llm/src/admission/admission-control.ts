import { randomUUID } from 'node:crypto';
import type { GenerateOptions, ModelRef, Usage } from '@plainloop/contracts';
import {
  type KeySchema,
  pipelinePerSlot,
  type RedisConnection,
  type ScriptedRedis,
  withPlainloopScripts,
} from '@plainloop/redis';
import { BoundedStalenessCache } from '../bounded-staleness-cache.ts';
import { breakerStaleness } from '../breaker/circuit-breaker.ts';

export type ModelLimits = { requestsPerMinute?: number; tokensPerMinute?: number };

/** `tracked`: false for a model without limits, which keeps no window and so has nothing to settle. */
export type Reservation = { id: string; model: ModelRef; tokens: number; tracked: boolean };

export type AdmissionDecision =
  | { admitted: true; reservation: Reservation }
  | { admitted: false; retryInMs: number };

const charactersPerToken = 4;
const defaultExpectedOutputTokens = 1_000;

type EstimateInput = Pick<GenerateOptions, 'messages' | 'tools' | 'maxOutputTokens'>;

/** The tool list's length as JSON, once per list: an agent offers the same list object step after step. */
const toolListLengths = new WeakMap<object, number>();
function toolListLength(tools: EstimateInput['tools']): number {
  const known = toolListLengths.get(tools);
  if (known !== undefined) return known;
  const length = JSON.stringify(tools).length;
  toolListLengths.set(tools, length);
  return length;
}

/**
 * A call's usage before it is made: the prompt at about four characters a token, and the answer it may
 * write. Deliberately rough; reservations are settled with the real usage as soon as it is known.
 */
export function estimateUsage(options: EstimateInput): Usage {
  let characters = 0;
  for (const message of options.messages) {
    characters += message.content.length;
    if (message.role === 'assistant')
      for (const call of message.toolCalls) characters += call.argumentsJson.length;
  }
  characters += toolListLength(options.tools);
  return {
    inputTokens: Math.ceil(characters / charactersPerToken),
    cachedInputTokens: 0,
    outputTokens: options.maxOutputTokens ?? defaultExpectedOutputTokens,
    reasoningTokens: 0,
  };
}

export function estimateTokens(options: EstimateInput): number {
  const usage = estimateUsage(options);
  return usage.inputTokens + usage.outputTokens;
}

/**
 * Token-aware admission shared by the fleet: per `provider:model`, a one-minute sliding window of
 * requests and tokens in Redis, and a cooldown any worker can set when a provider asks everyone to
 * wait. Configured limits are the provider's real ones; the fleet as a whole stays under them.
 */
export class AdmissionControl {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;
  readonly #limits: Readonly<Record<string, ModelLimits>>;
  /** When each model's cooldown ends (`performance.now()` time; 0 when it has none), of bounded staleness. */
  readonly #cooldownEnds: BoundedStalenessCache<number>;

  constructor(redis: RedisConnection, keys: KeySchema, limits: Readonly<Record<string, ModelLimits>>) {
    this.#redis = withPlainloopScripts(redis);
    this.#keys = keys;
    this.#limits = limits;
    this.#cooldownEnds = new BoundedStalenessCache(async (model) => {
      const remaining = await this.#redis.pttl(this.#keys.admission(model).cooldown);
      return remaining > 0 ? performance.now() + remaining : 0;
    }, breakerStaleness);
  }

  /** Whether the model has a request or token limit (without one, only its cooldown holds calls back). */
  isLimited(model: ModelRef): boolean {
    const limits = this.#limits[model];
    return Boolean(limits?.requestsPerMinute || limits?.tokensPerMinute);
  }

  async reserve(model: ModelRef, estimatedTokens: number): Promise<AdmissionDecision> {
    if (!this.isLimited(model)) {
      // No window to reserve in: only a cooldown holds the call back, read like a breaker's state (a
      // cooldown set anywhere holds every worker off within a second), with no round trip per call.
      const remaining = (await this.#cooldownEnds.get(model)) - performance.now();
      if (remaining > 0) return { admitted: false, retryInMs: Math.ceil(remaining) };
      return { admitted: true, reservation: { id: '', model, tokens: 0, tracked: false } };
    }
    const limits = this.#limits[model] ?? {};
    const keys = this.#keys.admission(model);
    const id = randomUUID();
    const [admitted, retryInMs, reserved] = await this.#redis.plainloopAdmissionReserve(
      keys.requests,
      keys.tokens,
      keys.tokenTotal,
      keys.cooldown,
      String(limits.requestsPerMinute ?? 0),
      String(limits.tokensPerMinute ?? 0),
      id,
      String(Math.max(0, Math.ceil(estimatedTokens))),
    );
    return admitted === 1
      ? { admitted: true, reservation: { id, model, tokens: reserved, tracked: this.isLimited(model) } }
      : { admitted: false, retryInMs };
  }

  /** Counts what the call really used instead of the estimate (0 when it failed before using any). */
  async settle(reservation: Reservation, usedTokens: number): Promise<void> {
    if (!reservation.tracked) return;
    const keys = this.#keys.admission(reservation.model);
    await this.#redis.plainloopAdmissionSettle(
      keys.tokens,
      keys.tokenTotal,
      reservation.id,
      String(reservation.tokens),
      String(Math.max(0, Math.round(usedTokens))),
    );
  }

  /** Holds every worker off a model for `milliseconds` (a provider's long retry-after); never shortens one. */
  async coolDown(model: ModelRef, milliseconds: number): Promise<void> {
    const cooling = Math.max(1, Math.ceil(milliseconds));
    await this.#redis.plainloopAdmissionCoolDown(this.#keys.admission(model).cooldown, String(cooling));
    // A cooldown only ever grows: this worker's own copy may take the longer end at once.
    const known = await this.#cooldownEnds.get(model);
    this.#cooldownEnds.set(model, Math.max(known, performance.now() + cooling));
  }

  /** How long each of these models is still cooling down, in milliseconds (0 when it is not). */
  async cooldowns(models: readonly ModelRef[]): Promise<Map<ModelRef, number>> {
    const replies = await pipelinePerSlot(
      this.#redis,
      models.map((model) => this.#keys.admission(model).cooldown),
      (reads, key) => reads.pttl(key),
    );
    return new Map(models.map((model, index) => [model, Math.max(0, Number(replies[index]?.[1] ?? 0))]));
  }
}
