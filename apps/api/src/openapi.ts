import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

type Document = Record<string, unknown> & { paths?: Record<string, Record<string, Operation>> };
type Operation = { responses?: Record<string, { content?: Record<string, unknown> }> };

/** Error replies are `application/problem+json` (RFC 9457); the generator writes every reply as JSON. */
function problemContentTypes(document: Document): Document {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const json = response.content?.['application/json'];
        if (Number(status) >= 400 && json !== undefined)
          response.content = { 'application/problem+json': json };
      }
    }
  }
  return document;
}

/**
 * The OpenAPI 3.1 document, generated from the routes' zod schemas (so it cannot drift from what the
 * API validates and sends), served at `/openapi.json`. A copy is committed as `apps/api/openapi.json`
 * and a test fails when it is out of date (`npm run generate:openapi` rewrites it).
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'plainloop',
        version: '0.1.0',
        description:
          'The producer API of plainloop: start agent runs, follow them, act on them. Every /v1/ request carries an API key; the key decides the tenant. Errors are application/problem+json.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
      tags: [
        { name: 'runs', description: 'Start, read, follow and act on runs' },
        { name: 'fleet', description: 'What the workers run and how their models are doing' },
        { name: 'cost', description: 'What a tenant spent' },
        { name: 'health', description: 'For load balancers and orchestrators' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: (input) => problemContentTypes(jsonSchemaTransformObject(input) as Document) as never,
  });
}

/** Serves the document; call after every route is registered. */
export function registerOpenApiRoute(app: FastifyInstance): void {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
