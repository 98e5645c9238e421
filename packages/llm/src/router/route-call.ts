import { setTimeout as sleepFor } from 'node:timers/promises';
import {
  type GenerateOptions,
  GenerateResult,
  type LanguageModel,
  type ModelRef,
  modelRefOf,
  totalTokens,
} from '@plainloop/contracts';
import { type AdmissionControl, estimateTokens } from '../admission/admission-control.ts';
import { type CircuitBreaker, countsAgainstBreaker } from '../breaker/circuit-breaker.ts';
import { LanguageModelError } from '../errors/language-model-error.ts';
import { backoffDelay, type RetrySettings } from './backoff.ts';

export type RouterEvent =
  | {
      type: 'attempt_failed';
      model: ModelRef;
      error: LanguageModelError;
      latencyMs: number;
      attempt: number;
      willRetry: boolean;
    }
  | { type: 'breaker_changed'; model: ModelRef; transition: 'opened' | 'closed'; failures: number }
  | { type: 'model_skipped'; model: ModelRef; reason: WaitReason; retryInMs: number };

export type WaitReason = 'breaker_open' | 'rate_limited' | 'cooling_down';

export type RouterDependencies = {
  breaker: CircuitBreaker;
  admission: AdmissionControl;
  settings: RetrySettings;
  /** Reports what happened on the way (failed attempts, breaker transitions, skipped models). */
  onEvent(event: RouterEvent): Promise<void>;
  random?: () => number;
};

export type RouteOutcome =
  | { kind: 'answered'; model: LanguageModel; result: GenerateResult; latencyMs: number }
  /** No model can take the call now; the earliest one can in `retryInMs`. */
  | { kind: 'wait'; retryInMs: number; reason: WaitReason }
  /** Every model failed in a way waiting would not mend. */
  | { kind: 'failed'; error: LanguageModelError };

/** How many times one call waits in place for admission before it gives the model up. */
const inlineAdmissionWaits = 3;

function asModelError(thrown: unknown, model: ModelRef): LanguageModelError {
  if (thrown instanceof LanguageModelError) return thrown;
  return new LanguageModelError({
    kind: 'unknown',
    model,
    message: thrown instanceof Error ? thrown.message : String(thrown),
    cause: thrown,
  });
}

async function sleep(milliseconds: number, signal: AbortSignal, model: ModelRef) {
  try {
    await sleepFor(milliseconds, undefined, { signal });
  } catch {
    throw new LanguageModelError({
      kind: 'aborted',
      model,
      message: 'the call was aborted while waiting to retry',
    });
  }
}

/** One attempt: the model's answer, checked against the spec, or a normalised error. */
async function attempt(model: LanguageModel, options: GenerateOptions): Promise<GenerateResult> {
  const answer = await model.doGenerate(options);
  const checked = GenerateResult.safeParse(answer);
  if (!checked.success) {
    const problem = checked.error.issues[0];
    throw new LanguageModelError({
      kind: 'server',
      model: modelRefOf(model),
      message: `the answer does not fit the LanguageModel spec: ${problem?.path.join('.')}: ${problem?.message}`,
    });
  }
  return checked.data;
}

/**
 * The router: one model call through an ordered fallback chain. Per model: the fleet-wide breaker must
 * let the call through and admission must fit it in the shared per-minute window; then up to
 * `attemptsPerModel` attempts, retryable failures backed off with full jitter or by the provider's
 * retry-after. A wait longer than `maxInlineWaitMs` is not slept here: the model is held off for the
 * whole fleet (cooldown) and the chain moves on. When no model can take the call, the outcome says how
 * long until one can, so the caller can checkpoint and yield instead of spinning on 429s.
 */
export async function routeCall(
  chain: readonly LanguageModel[],
  options: GenerateOptions,
  dependencies: RouterDependencies,
): Promise<RouteOutcome> {
  const { breaker, admission, settings, onEvent } = dependencies;
  const estimate = estimateTokens(options);
  let soonest: { retryInMs: number; reason: WaitReason } | undefined;
  let lastError: LanguageModelError | undefined;
  const waitFor = async (model: ModelRef, retryInMs: number, reason: WaitReason) => {
    if (soonest === undefined || retryInMs < soonest.retryInMs) soonest = { retryInMs, reason };
    await onEvent({ type: 'model_skipped', model, reason, retryInMs });
  };

  for (const model of chain) {
    const ref = modelRefOf(model);
    const gate = await breaker.acquire(ref);
    if (!gate.allowed) {
      await waitFor(ref, gate.retryInMs, 'breaker_open');
      continue;
    }
    for (let attemptNumber = 1; attemptNumber <= settings.attemptsPerModel; attemptNumber += 1) {
      let admitted = await admission.reserve(ref, estimate);
      for (
        let waited = 0;
        !admitted.admitted && admitted.retryInMs <= settings.maxInlineWaitMs && waited < inlineAdmissionWaits;
        waited += 1
      ) {
        await sleep(admitted.retryInMs, options.signal, ref);
        admitted = await admission.reserve(ref, estimate);
      }
      if (!admitted.admitted) {
        await waitFor(ref, admitted.retryInMs, 'rate_limited');
        break;
      }
      const started = performance.now();
      try {
        const result = await attempt(model, options);
        await admission.settle(admitted.reservation, totalTokens(result.usage));
        const health = await breaker.recordSuccess(ref);
        if (health.transition)
          await onEvent({ type: 'breaker_changed', model: ref, transition: health.transition, failures: 0 });
        return { kind: 'answered', model, result, latencyMs: performance.now() - started };
      } catch (thrown) {
        const latencyMs = performance.now() - started;
        const error = asModelError(thrown, ref);
        await admission.settle(admitted.reservation, 0);
        if (error.kind === 'aborted' || options.signal.aborted) throw error;
        lastError = error;
        let breakerOpened = false;
        if (countsAgainstBreaker(error.kind)) {
          const health = await breaker.recordFailure(ref);
          if (health.transition) {
            await onEvent({
              type: 'breaker_changed',
              model: ref,
              transition: health.transition,
              failures: health.failures,
            });
            breakerOpened = health.transition === 'opened';
          }
        }
        const longWait = error.retryAfterMs !== undefined && error.retryAfterMs > settings.maxInlineWaitMs;
        const willRetry =
          error.retryable && !breakerOpened && !longWait && attemptNumber < settings.attemptsPerModel;
        await onEvent({
          type: 'attempt_failed',
          model: ref,
          error,
          latencyMs,
          attempt: attemptNumber,
          willRetry,
        });
        if (error.retryable && longWait && error.retryAfterMs !== undefined) {
          // The provider asked for more patience than a worker slot should spend: hold everyone off it.
          await admission.coolDown(ref, error.retryAfterMs);
          await waitFor(ref, error.retryAfterMs, 'cooling_down');
          break;
        }
        if (breakerOpened) {
          await waitFor(ref, breaker.settings.cooldownMs, 'breaker_open');
          break;
        }
        if (!willRetry) break;
        await sleep(
          error.retryAfterMs ?? backoffDelay(attemptNumber, settings, dependencies.random),
          options.signal,
          ref,
        );
      }
    }
  }
  if (soonest) return { kind: 'wait', ...soonest };
  return {
    kind: 'failed',
    error:
      lastError ??
      new LanguageModelError({ kind: 'unknown', model: 'none:none', message: 'the chain has no model' }),
  };
}
