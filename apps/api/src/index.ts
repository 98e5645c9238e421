export * from './api-process.ts';
export * from './auth/api-keyring.ts';
export * from './auth/authenticate.ts';
export * from './build-api.ts';
