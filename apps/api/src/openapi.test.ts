import { readFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';
import { loadConfig } from '@plainloop/config';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyring } from './auth/api-keyring.ts';
import { buildApi } from './build-api.ts';
import { openApiDocumentPath, renderOpenApiDocument } from './openapi-document.ts';

const logger = createLogger({ service: 'openapi-test', level: 'silent' });

describe('the OpenAPI document', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await useTestRedis('producer');
  });
  afterAll(() => redis.close());

  it('is committed as the API generates it (run `npm run generate:openapi` after changing a route)', async () => {
    const generated = await renderOpenApiDocument({ config: loadConfig({}), redis: redis.client, logger });
    const committed = await readFile(openApiDocumentPath, 'utf8');
    expect(JSON.parse(committed), 'apps/api/openapi.json is out of date: npm run generate:openapi').toEqual(
      JSON.parse(generated),
    );
  });

  it('is a valid OpenAPI 3.1 document whose references all resolve', async () => {
    const document = await SwaggerParser.validate(openApiDocumentPath);
    expect('openapi' in document && document.openapi).toBe('3.1.0');
  });

  it('documents every route the API serves, with its problems as application/problem+json', async () => {
    const document = JSON.parse(await readFile(openApiDocumentPath, 'utf8')) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
    };
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(
      [
        'POST /v1/runs',
        'GET /v1/runs',
        'GET /v1/runs/{runId}',
        'GET /v1/runs/{runId}/steps',
        'GET /v1/runs/{runId}/events',
        'POST /v1/runs/{runId}/cancel',
        'POST /v1/runs/{runId}/approvals/{callId}',
        'POST /v1/runs/{runId}/approve',
        'POST /v1/runs/{runId}/fork',
        'GET /v1/agents',
        'GET /v1/models',
        'GET /v1/cost',
        'GET /v1/webhook-secret',
        'GET /healthz',
        'GET /readyz',
      ].sort(),
    );
    const fork = document.paths['/v1/runs/{runId}/fork']?.post;
    expect(Object.keys(fork?.responses ?? {})).toEqual(
      expect.arrayContaining(['202', '400', '401', '404', '422', '429']),
    );
    expect(fork?.responses['404']?.content).toHaveProperty(['application/problem+json']);
    expect(document.paths['/v1/runs/{runId}/events']?.get?.responses['200']?.content).toHaveProperty([
      'text/event-stream',
    ]);
  });

  it('is served at /openapi.json without a key, as committed', async () => {
    const app = await buildApi({
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix }),
      redis: redis.client,
      logger,
      authentication: { keyring: ApiKeyring.of({ 'a-key-of-sixteen-chars': 'acme' }) },
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/openapi.json' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual(JSON.parse(await readFile(openApiDocumentPath, 'utf8')));
    } finally {
      await app.close();
    }
  });
});
