export * from './fake-openai-server.ts';
export * from './test-redis.ts';
