import type { FakeProviderServer } from './fake-provider-server.ts';

/** Placeholder until the Gemini fake lands. */
export function startFakeGeminiServer(): Promise<FakeProviderServer> {
  throw new Error('not built yet');
}
