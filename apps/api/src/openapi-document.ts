import { fileURLToPath } from 'node:url';
import { ApiKeyring } from './auth/api-keyring.ts';
import { type ApiOptions, buildApi } from './build-api.ts';

/** Where the committed copy of the OpenAPI document lives. */
export const openApiDocumentPath = fileURLToPath(new URL('../openapi.json', import.meta.url));

/**
 * The OpenAPI document as committed: what `/openapi.json` serves, formatted as Biome formats JSON.
 * Nothing in it depends on the configuration's keys or limits, so any configuration renders the same.
 */
export async function renderOpenApiDocument(options: Omit<ApiOptions, 'authentication'>): Promise<string> {
  const app = await buildApi({ ...options, authentication: { keyring: ApiKeyring.of({}) } });
  try {
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
