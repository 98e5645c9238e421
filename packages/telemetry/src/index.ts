export * from './create-logger.ts';
export * from './log-payload.ts';
export * from './run-event-stream.ts';
export * from './tenant-cost.ts';
export * from './wait-for-redis.ts';
