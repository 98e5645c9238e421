export * from './context/build-context.ts';
export * from './context/token-count.ts';
export * from './episodic/summary-plan.ts';
export * from './episodic/thread-queue.ts';
export * from './episodic/thread-store.ts';
export * from './memory-tools.ts';
export * from './semantic/semantic-memory.ts';
export * from './semantic/vector-store.ts';
