import type { FakeProviderServer } from './fake-provider-server.ts';

/** Placeholder until the Anthropic fake lands. */
export function startFakeAnthropicServer(): Promise<FakeProviderServer> {
  throw new Error('not built yet');
}
