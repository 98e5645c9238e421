export * from './check-webhook-url.ts';
export * from './errors/webhook-delivery-error.ts';
export * from './errors/webhook-target-refused-error.ts';
export * from './start-webhook-worker.ts';
export * from './webhook-delivery.ts';
export * from './webhook-payload.ts';
