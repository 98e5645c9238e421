import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.ts';
import { loadConfig } from './load-config.ts';
import { secretsOf } from './secrets-of.ts';

describe('loadConfig', () => {
  it('gives production defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.redis).toEqual({ url: undefined, prefix: 'plainloop', replicaWaitMs: 1_000 });
    expect(config.worker.concurrency).toBe(4);
    expect(config.api.port).toBe(3000);
    expect(config.providers.openai.apiKey).toBeUndefined();
  });

  it('reads numbers and treats blank secrets as unset', () => {
    const config = loadConfig({ PLAINLOOP_CONCURRENCY: '8', OPENAI_API_KEY: '  ', PORT: '0' });
    expect(config.worker.concurrency).toBe(8);
    expect(config.api.port).toBe(0);
    expect(config.providers.openai.apiKey).toBeUndefined();
  });

  it('names the variable that is wrong in one line', () => {
    const attempt = () => loadConfig({ PLAINLOOP_CONCURRENCY: 'lots', OPENAI_BASE_URL: 'not a url' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/PLAINLOOP_CONCURRENCY: .*OPENAI_BASE_URL: /);
    try {
      attempt();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('\n');
    }
  });

  it('treats an empty variable as unset, not as zero', () => {
    const config = loadConfig({ PLAINLOOP_MAX_STEP_WAIT_MS: '', PLAINLOOP_CONCURRENCY: '  ' });
    expect(config.models.maxStepWaitMs).toBe(15 * 60_000);
    expect(config.worker.concurrency).toBe(4);
  });

  it('refuses a probe lease shorter than a model call may take', () => {
    expect(() => loadConfig({ PLAINLOOP_MODEL_TIMEOUT_MS: '120000' })).toThrow(
      /PLAINLOOP_BREAKER_PROBE_LEASE_MS/,
    );
  });

  it('reads per-model limits as JSON and says when they are not', () => {
    const config = loadConfig({
      PLAINLOOP_MODEL_LIMITS: '{"openai:gpt-4.1-mini":{"requestsPerMinute":500,"tokensPerMinute":200000}}',
    });
    expect(config.models.limits).toEqual({
      'openai:gpt-4.1-mini': { requestsPerMinute: 500, tokensPerMinute: 200_000 },
    });
    expect(() => loadConfig({ PLAINLOOP_MODEL_LIMITS: '{rpm: 5' })).toThrow(
      /PLAINLOOP_MODEL_LIMITS: is not valid JSON/,
    );
    expect(() => loadConfig({ PLAINLOOP_MODEL_LIMITS: '{"gpt-4":{"rpm":5}}' })).toThrow(
      /PLAINLOOP_MODEL_LIMITS/,
    );
  });

  it('serves the worker health endpoints on 9465 unless told otherwise; 0 picks a free port', () => {
    expect(loadConfig({}).worker.health).toEqual({ host: '127.0.0.1', port: 9465 });
    expect(loadConfig({ PLAINLOOP_WORKER_HEALTH_PORT: '0', HOST: '0.0.0.0' }).worker.health).toEqual({
      host: '0.0.0.0',
      port: 0,
    });
    expect(() => loadConfig({ PLAINLOOP_WORKER_HEALTH_PORT: '70000' })).toThrow(
      /PLAINLOOP_WORKER_HEALTH_PORT/,
    );
  });

  it('is frozen so no process can change it after start-up', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config.worker)).toBe(true);
    expect(() => {
      (config.worker as { concurrency: number }).concurrency = 99;
    }).toThrow(TypeError);
  });

  it('reads the alert settings and lists the secrets a logger must blank out', () => {
    const config = loadConfig({
      PLAINLOOP_ALERT_ERROR_RATE: '0.1',
      TELEGRAM_BOT_TOKEN: '123456:token',
      TELEGRAM_CHAT_ID: '-100123',
      OPENAI_API_KEY: 'sk-openai-key',
    });
    expect(config.alerts).toMatchObject({ errorRate: 0.1, minSamples: 20, windowSeconds: 600 });
    expect(config.alerts.telegram).toEqual({
      botToken: '123456:token',
      chatId: '-100123',
      apiUrl: 'https://api.telegram.org',
    });
    expect(secretsOf(config, 'redis://:hunter2-password@redis:6379')).toEqual([
      'sk-openai-key',
      '123456:token',
      'hunter2-password',
    ]);
    expect(() => loadConfig({ TELEGRAM_CHAT_ID: 'my chat' })).toThrow(/TELEGRAM_CHAT_ID/);
    expect(() => loadConfig({ PLAINLOOP_ALERT_ERROR_RATE: '5' })).toThrow(/PLAINLOOP_ALERT_ERROR_RATE/);
  });
});
