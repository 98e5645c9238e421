export * from './metric-catalog.ts';
export * from './metrics-process.ts';
export * from './start-metrics.ts';
