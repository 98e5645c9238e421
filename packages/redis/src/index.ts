export type { Redis } from 'ioredis';
export * from './check-redis.ts';
export * from './create-redis-client.ts';
export * from './errors/redis-unavailable-error.ts';
export * from './errors/run-fenced-error.ts';
export * from './key-schema.ts';
export * from './private-redis-server.ts';
export * from './run-queue.ts';
export * from './run-store.ts';
