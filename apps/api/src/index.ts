export * from './api-process.ts';
export * from './build-api.ts';
