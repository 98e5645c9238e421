export * from './config-error.ts';
export * from './load-config.ts';
export * from './redis-address.ts';
export * from './secrets-of.ts';
