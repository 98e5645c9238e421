import type { Tier } from '@plainloop/contracts';
import type { RouterEvent } from '@plainloop/llm';
import type { RunSession } from './run-session.ts';

/** The router's story as run events: failed attempts, breakers that opened or closed. */
export async function reportRouterEvent(session: RunSession, tier: Tier, event: RouterEvent): Promise<void> {
  const { step } = session.state;
  switch (event.type) {
    case 'attempt_failed':
      return session.emit(
        {
          type: 'llm.failed',
          step,
          tier,
          model: event.model,
          error: event.error.toStructured(),
          latencyMs: event.latencyMs,
          attempt: event.attempt,
          willRetry: event.willRetry,
        },
        { err: event.error },
      );
    case 'breaker_changed':
      return event.transition === 'opened'
        ? session.emit({
            type: 'breaker.opened',
            step,
            model: event.model,
            failures: event.failures,
            cooldownMs: session.environment.models.breaker.settings.cooldownMs,
          })
        : session.emit({ type: 'breaker.closed', step, model: event.model });
    case 'bookkeeping_failed':
      session.logger.warn(
        { err: event.error, model: event.model },
        'could not record a model call that was answered',
      );
      return;
    case 'model_skipped':
      session.logger.info(
        { model: event.model, reason: event.reason, retryInMs: event.retryInMs },
        'model skipped',
      );
      return;
  }
}
