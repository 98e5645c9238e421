export * from './api-replies.ts';
export * from './plainloop-api-error.ts';
export * from './plainloop-client.ts';
export type { RetryPolicy } from './retry-policy.ts';
export type { EventStreamOptions } from './run-event-stream.ts';
export * from './run-producer.ts';
export * from './verify-webhook.ts';
