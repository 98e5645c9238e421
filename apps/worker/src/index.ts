export * from './start-worker.ts';
export * from './worker-process.ts';
