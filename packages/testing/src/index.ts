export * from './fake-providers/anthropic-protocol.ts';
export * from './fake-providers/fake-provider-server.ts';
export * from './fake-providers/gemini-protocol.ts';
export * from './fake-providers/openai-protocol.ts';
export * from './fake-telegram-server.ts';
export * from './metrics-text.ts';
export * from './restartable-redis.ts';
export * from './test-redis.ts';
