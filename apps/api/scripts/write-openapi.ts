/**
 * Writes `apps/api/openapi.json`, the committed copy of the document the API serves at /openapi.json:
 * `npm run generate:openapi`. The API is built on a private redis-server started for the purpose.
 */
import { writeFile } from 'node:fs/promises';
import { loadConfig } from '@plainloop/config';
import { connectRedis, startPrivateRedisServer } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { openApiDocumentPath, renderOpenApiDocument } from '../src/openapi-document.ts';

const server = await startPrivateRedisServer();
try {
  const redis = await connectRedis(server.url, 'producer', 'openapi-writer');
  const text = await renderOpenApiDocument({
    config: loadConfig({}),
    redis,
    logger: createLogger({ service: 'openapi', level: 'silent' }),
  });
  await writeFile(openApiDocumentPath, text);
  await redis.quit();
  process.stdout.write(`wrote ${openApiDocumentPath}\n`);
} finally {
  await server.stop();
}
