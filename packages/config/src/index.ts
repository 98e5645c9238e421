export * from './config-error.ts';
export * from './load-config.ts';
