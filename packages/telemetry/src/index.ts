export * from './create-logger.ts';
export * from './run-event-stream.ts';
