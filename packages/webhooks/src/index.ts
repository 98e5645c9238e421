export * from './check-webhook-url.ts';
export * from './errors/webhook-delivery-error.ts';
export * from './errors/webhook-target-refused-error.ts';
export { signingKeyOf } from './sign-webhook.ts';
export * from './start-webhook-worker.ts';
export * from './tenant-webhook-secret.ts';
export * from './webhook-delivery.ts';
export * from './webhook-payload.ts';
