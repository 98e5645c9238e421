import { randomUUID } from 'node:crypto';
import { setTimeout as sleepFor } from 'node:timers/promises';
import {
  type GenerateOptions,
  GenerateResult,
  type LanguageModel,
  type ModelRef,
  modelRefOf,
  totalTokens,
  type Usage,
} from '@plainloop/contracts';
import { type AdmissionControl, estimateUsage } from '../admission/admission-control.ts';
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
  | { type: 'model_skipped'; model: ModelRef; reason: WaitReason; retryInMs: number }
  | { type: 'bookkeeping_failed'; model: ModelRef; error: unknown };

export type WaitReason = 'breaker_open' | 'rate_limited' | 'cooling_down' | 'budget';

/**
 * Why a budget refused a call: `error` ends the run when no model of the chain fits; `retryInMs` says
 * the refusal is only for now (other calls' reservations hold the room) and the run may wait.
 */
export type SpendRefusal = { error: Error; retryInMs?: number };

/**
 * Budgets, seen from the router: every call is reserved before it is made and settled after, answered
 * or not. A refused call moves the chain on to the next (perhaps cheaper) model.
 */
export type SpendGuard = {
  reserve(call: { callId: string; model: LanguageModel; estimate: Usage }): Promise<SpendRefusal | undefined>;
  settle(call: { callId: string; model: LanguageModel }, usage: Usage | undefined): Promise<void>;
};

export type RouterDependencies = {
  spendGuard?: SpendGuard;
  breaker: CircuitBreaker;
  admission: AdmissionControl;
  settings: RetrySettings;
  /** Reports what happened on the way (failed attempts, breaker transitions, skipped models). */
  onEvent(event: RouterEvent): Promise<void>;
  random?: () => number;
};

export type RouteOutcome =
  | {
      kind: 'answered';
      model: LanguageModel;
      callId: string;
      result: GenerateResult;
      latencyMs: number;
      /** Answered by a model after the first of the chain: the ones before it were skipped or failed. */
      fallback: boolean;
      /**
       * The call's settlement (budgets, admission) and its success on the breaker, sent but perhaps not
       * yet answered; it never rejects. Wait for it with the next write, before the call is done with.
       */
      bookkeeping: Promise<void>;
    }
  /** No model can take the call now; the earliest one can in `retryInMs`. */
  | { kind: 'wait'; retryInMs: number; reason: WaitReason }
  /** Every model failed in a way waiting would not mend. */
  | { kind: 'failed'; error: LanguageModelError };

/** How many times one call waits in place for admission before it gives the model up. */
const inlineAdmissionWaits = 3;

/** Waits are spread by up to this share, so runs parked for one model do not all come back at once. */
const waitJitter = 0.2;

function asModelError(thrown: unknown, model: ModelRef): LanguageModelError {
  if (thrown instanceof LanguageModelError) return thrown;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new LanguageModelError({ kind: 'unknown', model, message, cause: thrown });
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
 * long until one can, so the caller can checkpoint and yield instead of spinning on 429s; only when
 * every model failed in a way waiting would not mend is the outcome a failure.
 */
export async function routeCall(
  chain: readonly LanguageModel[],
  options: GenerateOptions,
  dependencies: RouterDependencies,
): Promise<RouteOutcome> {
  const { breaker, admission, settings, onEvent } = dependencies;
  const random = dependencies.random ?? Math.random;
  const estimatedUsage = estimateUsage(options);
  const estimate = totalTokens(estimatedUsage);
  let soonest: { retryInMs: number; reason: WaitReason } | undefined;
  let refusal: SpendRefusal | undefined;
  let lastError: LanguageModelError | undefined;
  const waitFor = async (model: ModelRef, retryInMs: number, reason: WaitReason) => {
    if (soonest === undefined || retryInMs < soonest.retryInMs) soonest = { retryInMs, reason };
    await onEvent({ type: 'model_skipped', model, reason, retryInMs });
  };

  for (const model of chain) {
    const ref = modelRefOf(model);
    // A model without limits asks admission only whether it is cooling down, which reserves nothing, so
    // both questions go to Redis at once. With limits, a reservation takes a request of the window, so
    // it is made only once the breaker lets the call through.
    const [gate, unlimitedAdmission] = await Promise.all([
      breaker.acquire(ref),
      admission.isLimited(ref) ? undefined : admission.reserve(ref, estimate),
    ]);
    if (!gate.allowed) {
      await waitFor(ref, gate.retryInMs, 'breaker_open');
      continue;
    }
    // A half-open breaker let this call through as its one probe: it must report back either way.
    let healthReported = gate.state !== 'half_open';
    const report = async (outcome: 'success' | 'failure') => {
      healthReported = true;
      const health =
        outcome === 'success' ? await breaker.recordSuccess(ref) : await breaker.recordFailure(ref);
      if (health.transition) {
        await onEvent({
          type: 'breaker_changed',
          model: ref,
          transition: health.transition,
          failures: health.failures,
        });
      }
      return health;
    };
    try {
      for (let attemptNumber = 1; attemptNumber <= settings.attemptsPerModel; attemptNumber += 1) {
        let admitted =
          attemptNumber === 1 && unlimitedAdmission !== undefined
            ? unlimitedAdmission
            : await admission.reserve(ref, estimate);
        for (
          let waited = 0;
          !admitted.admitted &&
          admitted.retryInMs <= settings.maxInlineWaitMs &&
          waited < inlineAdmissionWaits;
          waited += 1
        ) {
          await sleep(admitted.retryInMs, options.signal, ref);
          admitted = await admission.reserve(ref, estimate);
        }
        if (!admitted.admitted) {
          await waitFor(ref, admitted.retryInMs, 'rate_limited');
          break;
        }
        const callId = randomUUID();
        const refused = await dependencies.spendGuard?.reserve({ callId, model, estimate: estimatedUsage });
        if (refused) {
          await admission.settle(admitted.reservation, 0);
          refusal ??= refused;
          if (refused.retryInMs !== undefined) await waitFor(ref, refused.retryInMs, 'budget');
          break;
        }
        const started = performance.now();
        let result: GenerateResult;
        try {
          result = await attempt(model, options);
        } catch (thrown) {
          const latencyMs = performance.now() - started;
          const error = asModelError(thrown, ref);
          await dependencies.spendGuard?.settle({ callId, model }, undefined);
          await admission.settle(admitted.reservation, 0);
          if (error.kind === 'aborted' || options.signal.aborted) throw error;
          lastError = error;
          // A failure that says the model is unwell counts against its breaker; any other answer (a 429,
          // a 400) proves the provider is up, which is what a probe needs to know.
          const health = await report(countsAgainstBreaker(error.kind) ? 'failure' : 'success');
          const breakerOpened = health.transition === 'opened';
          const advisedWait =
            error.retryAfterMs === undefined
              ? undefined
              : Math.min(error.retryAfterMs, settings.maxCooldownMs);
          const longWait = advisedWait !== undefined && advisedWait > settings.maxInlineWaitMs;
          const lastAttempt = attemptNumber >= settings.attemptsPerModel;
          const willRetry = error.retryable && !breakerOpened && !longWait && !lastAttempt;
          await onEvent({
            type: 'attempt_failed',
            model: ref,
            error,
            latencyMs,
            attempt: attemptNumber,
            willRetry,
          });
          if (willRetry) {
            await sleep(advisedWait ?? backoffDelay(attemptNumber, settings, random), options.signal, ref);
            continue;
          }
          if (!error.retryable) break;
          // Retryable, but not now: the run can come back to this model later.
          if (breakerOpened) {
            await waitFor(ref, breaker.settings.cooldownMs, 'breaker_open');
          } else if (longWait) {
            // The provider asked for more patience than a worker slot should spend: hold everyone off it.
            await admission.coolDown(ref, advisedWait);
            await waitFor(ref, advisedWait, 'cooling_down');
          } else {
            await waitFor(
              ref,
              Math.max(advisedWait ?? 0, settings.maxDelayMs),
              error.kind === 'rate_limit' ? 'rate_limited' : 'cooling_down',
            );
          }
          break;
        }
        // The answer is paid for: bookkeeping that fails now must not turn it into a failure. It is sent
        // now and waited for by the caller, beside the checkpoint of the answer: one round trip for both.
        const latencyMs = performance.now() - started;
        const bookkeeping = Promise.allSettled([
          dependencies.spendGuard?.settle({ callId, model }, result.usage),
          admission.settle(admitted.reservation, totalTokens(result.usage)),
          report('success'),
        ]).then(async (outcomes) => {
          for (const outcome of outcomes) {
            if (outcome.status === 'rejected')
              await onEvent({ type: 'bookkeeping_failed', model: ref, error: outcome.reason });
          }
        });
        return {
          kind: 'answered',
          model,
          callId,
          result,
          latencyMs,
          fallback: model !== chain[0],
          bookkeeping,
        };
      }
    } finally {
      if (!healthReported) await breaker.releaseProbe(ref).catch(() => undefined);
    }
  }
  if (soonest) {
    return {
      kind: 'wait',
      reason: soonest.reason,
      retryInMs: Math.ceil(soonest.retryInMs * (1 + waitJitter * random())),
    };
  }
  // No model fit the budget and none will by waiting: the budget's refusal is the answer.
  if (refusal) throw refusal.error;
  return {
    kind: 'failed',
    error:
      lastError ??
      new LanguageModelError({ kind: 'unknown', model: 'none:none', message: 'the chain has no model' }),
  };
}
